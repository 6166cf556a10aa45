//! Changing the forwarding file through the API (`otwatch forwards add|remove`): the text is
//! edited, not rewritten, so the operator's comments and layout stay; every change is checked
//! as a whole file before it is written (atomically: a temporary file renamed over it).

use super::config::{ConfigError, ForwardConfig};
use std::path::Path;

/// The text of `file` (empty when it does not exist yet).
pub fn read(file: &Path) -> Result<String, String> {
    match std::fs::read_to_string(file) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

/// Writes `text` to `file` atomically, readable by its owner only (it may hold secrets).
pub fn write(file: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = file.with_extension("toml.new");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// `current` (the text of `file`) with `added` (named `added_name` in errors) appended, and
/// what it reads as; refused with the file and line of the first problem.
pub fn add(
    file: &str,
    current: &str,
    added_name: &str,
    added: &str,
) -> Result<(String, ForwardConfig), ConfigError> {
    // Alone first: a syntax error gets the operator's own line numbers.
    let alone = ForwardConfig::parse(added_name, added);
    if let Err(e) = &alone {
        if !e.reason.contains("not defined") {
            return Err(e.clone());
        }
    }
    let mut text = current.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let offset = text.lines().count();
    text.push_str(added);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match ForwardConfig::parse(file, &text) {
        Ok(cfg) => Ok((text, cfg)),
        // A problem in the added part is told at its own line.
        Err(e) if e.line > offset => Err(ConfigError {
            file: added_name.to_string(),
            line: e.line - offset,
            reason: e.reason,
        }),
        Err(e) => Err(e),
    }
}

/// `current` without the rule or destination named `name`, and what it reads as. A
/// destination that rules still send to is refused.
pub fn remove(file: &str, current: &str, name: &str) -> Result<(String, ForwardConfig), String> {
    let cfg = ForwardConfig::parse(file, current).map_err(|e| e.to_string())?;
    let Some((_, line)) = cfg.lines.iter().find(|(n, _)| n == name) else {
        return Err(format!(
            "no rule or destination {name:?} in {file}; list them with `otwatch forwards list`"
        ));
    };
    if cfg.destination(name).is_some() {
        let users: Vec<&str> = cfg
            .rules
            .iter()
            .filter(|r| r.destination == name)
            .map(|r| r.name.as_str())
            .collect();
        if !users.is_empty() {
            return Err(format!(
                "destination {name:?} is used by rule(s) {}; remove them first",
                users.join(", ")
            ));
        }
    }
    // The table runs from its header line to the next table header (or the end), less the
    // comments (and blank lines among them) just above that header: they belong to it.
    let lines: Vec<&str> = current.split_inclusive('\n').collect();
    let start = line - 1;
    let mut end = (start + 1..lines.len())
        .find(|i| lines[*i].trim_start().starts_with('['))
        .unwrap_or(lines.len());
    if end < lines.len() {
        while end > start + 1 && {
            let l = lines[end - 1].trim();
            l.is_empty() || l.starts_with('#')
        } {
            end -= 1;
        }
    }
    let text: String = lines[..start]
        .iter()
        .chain(&lines[end..])
        .copied()
        .collect();
    let cfg = ForwardConfig::parse(file, &text).map_err(|e| e.to_string())?;
    Ok((text, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "# ours\n[[destination]]\nname = \"d\"\ntype = \"file\"\npath = \"-\"\n\n[[rule]]\nname = \"r\"\ndestination = \"d\"\n";

    #[test]
    fn add_and_remove_keep_the_rest() {
        let (t, c) = add(
            "f.toml",
            BASE,
            "new.toml",
            "[[rule]]\nname = \"r2\"\ndestination = \"d\"\nmin_severity = \"high\"\n",
        )
        .unwrap();
        assert_eq!(c.rules.len(), 2);
        assert!(t.starts_with("# ours\n"));
        let (t, c) = remove("f.toml", &t, "r").unwrap();
        assert_eq!(c.rules.len(), 1);
        assert_eq!(c.rules[0].name, "r2");
        assert!(t.contains("# ours") && t.contains("[[destination]]"));
        let e = remove("f.toml", &t, "d").unwrap_err();
        assert!(e.contains("used by rule(s) r2"), "{e}");
        let (_, c) = remove("f.toml", &t, "r2").unwrap();
        let (_, c2) = remove("f.toml", &remove("f.toml", &t, "r2").unwrap().0, "d").unwrap();
        assert_eq!((c.rules.len(), c2.destinations.len()), (0, 0));
    }

    #[test]
    fn removing_a_table_keeps_the_comment_above_the_next_one() {
        let text = "[[destination]]\nname = \"d\"\ntype = \"file\"\npath = \"-\"\n\n[[rule]]\nname = \"r\"\ndestination = \"d\"\n\n# why r2: the SOC asked\n\n[[rule]]\nname = \"r2\"\ndestination = \"d\"\n";
        let (t, c) = remove("f.toml", text, "r").unwrap();
        assert_eq!(c.rules.len(), 1);
        assert!(!t.contains("name = \"r\""), "{t}");
        assert!(
            t.contains("# why r2: the SOC asked\n\n[[rule]]\nname = \"r2\""),
            "{t}"
        );
        // The last table goes to the end of the file.
        let (t, c) = remove("f.toml", &t, "r2").unwrap();
        assert!(c.rules.is_empty() && !t.contains("r2\""), "{t}");
    }

    #[test]
    fn a_refused_addition_names_the_added_file_and_line() {
        let e = add(
            "f.toml",
            BASE,
            "new.toml",
            "\n[[rule]]\nname = \"r2\"\ndestination = \"d\"\nmin_severity = \"loud\"\n",
        )
        .unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("new.toml", 2), "{e}");
        let e = add(
            "f.toml",
            BASE,
            "new.toml",
            "[[rule]]\nname = \"r2\"\ndestination = \"x\"\n",
        )
        .unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("new.toml", 1), "{e}");
        assert!(e.reason.contains("not defined"), "{e}");
        let e = add(
            "f.toml",
            BASE,
            "new.toml",
            "[[rule]]\nname = \"r\"\ndestination = \"d\"\n",
        )
        .unwrap_err();
        assert!(e.reason.contains("defined twice"), "{e}");
        let e = add("f.toml", BASE, "new.toml", "[[rule]\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("new.toml", 1), "{e}");
    }
}
