//! A small metrics registry and its Prometheus text exposition (format 0.0.4): families of
//! counters, gauges and histograms, each with fixed label names; series are created on first
//! use. Written here rather than taken from a crate: the manager needs a few dozen series and
//! the text format, which is a page of code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, RwLock};

/// What a family measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Only ever goes up (its name ends in `_total`).
    Counter,
    Gauge,
    /// Observations counted into buckets with these upper bounds (increasing).
    Histogram(Vec<f64>),
}

impl Kind {
    fn as_str(&self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Series {
    value: f64,
    /// Histograms: the count per bucket (not cumulative), then the sum.
    buckets: Vec<u64>,
    count: u64,
}

/// One metric: its name, help, kind, label names and series by label values.
#[derive(Debug)]
pub struct Family {
    name: String,
    help: String,
    kind: Kind,
    labels: Vec<String>,
    series: Mutex<BTreeMap<Vec<String>, Series>>,
}

impl Family {
    pub fn name(&self) -> &str {
        &self.name
    }

    fn with<R>(&self, values: &[&str], f: impl FnOnce(&mut Series) -> R) -> Option<R> {
        debug_assert_eq!(values.len(), self.labels.len(), "labels of {}", self.name);
        let mut series = self.series.lock().ok()?;
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let s = series.entry(key).or_insert_with(|| Series {
            buckets: match &self.kind {
                Kind::Histogram(b) => vec![0; b.len()],
                _ => Vec::new(),
            },
            ..Series::default()
        });
        Some(f(s))
    }

    /// Adds `by` to a counter or gauge.
    pub fn add(&self, values: &[&str], by: f64) {
        self.with(values, |s| s.value += by);
    }

    /// Sets a gauge.
    pub fn set(&self, values: &[&str], to: f64) {
        self.with(values, |s| s.value = to);
    }

    /// Records one observation in a histogram.
    pub fn observe(&self, values: &[&str], v: f64) {
        let Kind::Histogram(bounds) = &self.kind else {
            return;
        };
        let i = bounds.iter().position(|b| v <= *b);
        self.with(values, |s| {
            if let Some(i) = i {
                s.buckets[i] += 1;
            }
            s.count += 1;
            s.value += v;
        });
    }

    /// Forgets the series with these label values (a sensor that left).
    pub fn remove(&self, values: &[&str]) {
        if let Ok(mut series) = self.series.lock() {
            let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            series.remove(&key);
        }
    }

    /// Keeps only the series `keep` says yes to.
    pub fn retain(&self, mut keep: impl FnMut(&[String]) -> bool) {
        if let Ok(mut series) = self.series.lock() {
            series.retain(|k, _| keep(k));
        }
    }

    /// The value of a counter or gauge series (for tests and reports).
    pub fn value(&self, values: &[&str]) -> Option<f64> {
        let series = self.series.lock().ok()?;
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        series.get(&key).map(|s| s.value)
    }

    fn encode(&self, out: &mut String) {
        let Ok(series) = self.series.lock() else {
            return;
        };
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(&self.help));
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind.as_str());
        for (values, s) in series.iter() {
            let labels = label_set(&self.labels, values, None);
            match &self.kind {
                Kind::Counter | Kind::Gauge => {
                    let _ = writeln!(out, "{}{labels} {}", self.name, number(s.value));
                }
                Kind::Histogram(bounds) => {
                    let mut cumulative = 0;
                    for (b, n) in bounds.iter().zip(&s.buckets) {
                        cumulative += n;
                        let le = label_set(&self.labels, values, Some(&number(*b)));
                        let _ = writeln!(out, "{}_bucket{le} {cumulative}", self.name);
                    }
                    let inf = label_set(&self.labels, values, Some("+Inf"));
                    let _ = writeln!(out, "{}_bucket{inf} {}", self.name, s.count);
                    let _ = writeln!(out, "{}_sum{labels} {}", self.name, number(s.value));
                    let _ = writeln!(out, "{}_count{labels} {}", self.name, s.count);
                }
            }
        }
    }
}

/// `{a="x",b="y"}` (with `le` last for a histogram bucket), or nothing without labels.
fn label_set(names: &[String], values: &[String], le: Option<&str>) -> String {
    let mut pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape_label(v)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

/// A label value in the text format: backslash, double quote and line feed escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A HELP line: backslash and line feed escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as the text format writes it (Go's float syntax; integers without a point).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Whether `name` is a valid metric or label name (`[a-zA-Z_:][a-zA-Z0-9_:]*`; labels
/// without `:`).
fn valid_name(name: &str, label: bool) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic()
            || c == '_'
            || (!label && c == ':')
            || (!first && c.is_ascii_digit())
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

/// Refreshes gauges just before an exposition (values read from elsewhere: the store's size,
/// a queue's depth).
pub type Collector = Box<dyn Fn() + Send + Sync>;

/// The families, in registration order, and the collectors run before each exposition.
#[derive(Default)]
pub struct Registry {
    families: RwLock<Vec<Arc<Family>>>,
    collectors: RwLock<Vec<Collector>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

/// Why a family could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("metric name {0:?} is not valid ([a-zA-Z_:][a-zA-Z0-9_:]*)")]
    BadName(String),
    #[error("label name {0:?} of {1} is not valid ([a-zA-Z_][a-zA-Z0-9_]*, not `le`, not __*)")]
    BadLabel(String, String),
    #[error("counter {0} must be named …_total")]
    CounterName(String),
    #[error("histogram {0} needs increasing bucket bounds")]
    Buckets(String),
}

impl Registry {
    /// Adds a family, or returns the one of that name already registered.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[&str],
    ) -> Result<Arc<Family>, RegistryError> {
        if !valid_name(name, false) {
            return Err(RegistryError::BadName(name.into()));
        }
        if let Some(l) = labels
            .iter()
            .find(|l| !valid_name(l, true) || **l == "le" || l.starts_with("__"))
        {
            return Err(RegistryError::BadLabel((*l).into(), name.into()));
        }
        if kind == Kind::Counter && !name.ends_with("_total") {
            return Err(RegistryError::CounterName(name.into()));
        }
        if let Kind::Histogram(b) = &kind {
            if b.is_empty() || b.windows(2).any(|w| w[0] >= w[1]) || b.iter().any(|x| x.is_nan()) {
                return Err(RegistryError::Buckets(name.into()));
            }
        }
        let mut families = self
            .families
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = families.iter().find(|f| f.name == name) {
            return Ok(f.clone());
        }
        let f = Arc::new(Family {
            name: name.into(),
            help: help.into(),
            kind,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            series: Mutex::default(),
        });
        families.push(f.clone());
        Ok(f)
    }

    /// Adds a collector, run before every exposition.
    pub fn collect_with(&self, c: Collector) {
        self.collectors
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(c);
    }

    /// The text exposition of every family.
    pub fn encode(&self) -> String {
        for c in self
            .collectors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            c();
        }
        let mut out = String::new();
        for f in self
            .families
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            f.encode(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_exposition_of_each_kind() {
        let r = Registry::default();
        let c = r
            .register(
                "x_requests_total",
                "Requests.\nTwo lines.",
                Kind::Counter,
                &["method"],
            )
            .unwrap();
        c.add(&["a\"b\\c\nd"], 2.0);
        let g = r.register("x_depth", "Depth.", Kind::Gauge, &[]).unwrap();
        g.set(&[], 1.5);
        let h = r
            .register(
                "x_seconds",
                "Latency.",
                Kind::Histogram(vec![0.1, 1.0]),
                &["m"],
            )
            .unwrap();
        h.observe(&["q"], 0.05);
        h.observe(&["q"], 0.5);
        h.observe(&["q"], 5.0);
        let text = r.encode();
        assert_eq!(
            text,
            "# HELP x_requests_total Requests.\\nTwo lines.\n# TYPE x_requests_total counter\n\
             x_requests_total{method=\"a\\\"b\\\\c\\nd\"} 2\n\
             # HELP x_depth Depth.\n# TYPE x_depth gauge\nx_depth 1.5\n\
             # HELP x_seconds Latency.\n# TYPE x_seconds histogram\n\
             x_seconds_bucket{m=\"q\",le=\"0.1\"} 1\nx_seconds_bucket{m=\"q\",le=\"1\"} 2\n\
             x_seconds_bucket{m=\"q\",le=\"+Inf\"} 3\nx_seconds_sum{m=\"q\"} 5.55\n\
             x_seconds_count{m=\"q\"} 3\n"
        );
    }

    #[test]
    fn bad_families_are_refused() {
        let r = Registry::default();
        assert!(matches!(
            r.register("1x", "", Kind::Gauge, &[]),
            Err(RegistryError::BadName(_))
        ));
        assert!(matches!(
            r.register("x", "", Kind::Counter, &[]),
            Err(RegistryError::CounterName(_))
        ));
        assert!(matches!(
            r.register("x", "", Kind::Gauge, &["le"]),
            Err(RegistryError::BadLabel(..))
        ));
        assert!(matches!(
            r.register("x", "", Kind::Histogram(vec![1.0, 1.0]), &[]),
            Err(RegistryError::Buckets(_))
        ));
        let a = r.register("x", "", Kind::Gauge, &[]).unwrap();
        let b = r.register("x", "", Kind::Gauge, &[]).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }
}
