//! Templated text in playbook actions: `{{name}}` placeholders, substituted from the alert's
//! [`Event`]. Parsed when the playbook file is read, so an unknown placeholder or an unclosed
//! `{{` is refused then (with the file and line), never found while an alert waits.

use crate::forward::Event;

/// The placeholders a template may use, and what each is (docs/PLAYBOOKS.md lists them).
pub const PLACEHOLDERS: [&str; 22] = [
    "alert.id",
    "alert.kind",
    "alert.severity",
    "alert.state",
    "alert.title",
    "alert.description",
    "alert.src",
    "alert.dst",
    "alert.protocol",
    "alert.mitre",
    "alert.count",
    "alert.first_seen",
    "alert.last_seen",
    "asset.id",
    "asset.ip",
    "asset.mac",
    "asset.vendor",
    "asset.model",
    "site",
    "sensor",
    "time",
    "playbook",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// One of [`PLACEHOLDERS`].
    Var(&'static str),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`: literal text and `{{ name }}` placeholders (spaces inside the braces are
    /// allowed). An unknown name or a `{{` without `}}` is refused with the reason.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("\"{{{{\" without \"}}}}\" in {text:?}"))?;
            let name = after[..close].trim();
            let var = PLACEHOLDERS.iter().find(|p| **p == name).ok_or_else(|| {
                format!(
                    "unknown placeholder {{{{{name}}}}}; use one of {}",
                    PLACEHOLDERS.join(", ")
                )
            })?;
            pieces.push(Piece::Var(var));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces })
    }

    /// The template as written (placeholders as `{{name}}`).
    pub fn source(&self) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Var(v) => format!("{{{{{v}}}}}"),
            })
            .collect()
    }

    /// The text with every placeholder replaced by the value from `e` (empty when the alert
    /// has none); `playbook` is the running playbook's name.
    pub fn render(&self, e: &Event, playbook: &str) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => out.push_str(&value(v, e, playbook)),
            }
        }
        out
    }
}

fn value(name: &str, e: &Event, playbook: &str) -> String {
    match name {
        "alert.id" => e.alert_id.clone(),
        "alert.kind" => e.kind.clone(),
        "alert.severity" => e.severity.clone(),
        "alert.state" => e.state.clone(),
        "alert.title" => e.title.clone(),
        "alert.description" => e.description.clone(),
        "alert.src" => e.src.clone(),
        "alert.dst" => e.dst.clone(),
        "alert.protocol" => e.protocol.clone(),
        "alert.mitre" => e.mitre.join(", "),
        "alert.count" => e.count.to_string(),
        "alert.first_seen" => e.first_seen.clone(),
        "alert.last_seen" => e.last_seen.clone(),
        "asset.id" => e.asset_id.clone(),
        "asset.ip" => e.asset_ip.clone(),
        "asset.mac" => e.asset_mac.clone(),
        "asset.vendor" => e.vendor.clone(),
        "asset.model" => e.model.clone(),
        "site" => e.site.clone(),
        "sensor" => e.sensor.clone(),
        "time" => e.time.clone(),
        "playbook" => playbook.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_substituted() {
        let t = Template::parse("[{{alert.severity}}] {{ alert.title }} from {{alert.src}} at {{site}} ({{playbook}}){{asset.id}}").unwrap();
        let e = Event {
            severity: "high".into(),
            title: "PLC stopped".into(),
            src: "10.0.0.5".into(),
            site: "plant-a".into(),
            asset_id: "s1/a7".into(),
            ..Event::default()
        };
        assert_eq!(
            t.render(&e, "pb"),
            "[high] PLC stopped from 10.0.0.5 at plant-a (pb)s1/a7"
        );
        assert_eq!(Template::parse("plain").unwrap().render(&e, "pb"), "plain");
        assert_eq!(Template::parse("").unwrap().render(&e, "pb"), "");
    }

    #[test]
    fn bad_templates_are_refused() {
        let e = Template::parse("x {{alert.colour}} y").unwrap_err();
        assert!(e.contains("unknown placeholder {{alert.colour}}"), "{e}");
        assert!(e.contains("alert.title"), "{e}");
        let e = Template::parse("x {{alert.title y").unwrap_err();
        assert!(e.contains("without"), "{e}");
    }
}
