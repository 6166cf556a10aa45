//! Errors as one line for people: what failed, then its causes, each said once.
//!
//! Libraries often put their cause's text into their own message and also return it as the
//! source (`cannot read x: No such file or directory` caused by `No such file or directory`;
//! hyper's `tcp connect error` caused by `tcp connect error: Connection refused`), so printing
//! the whole chain repeats itself. [`one_line`] leaves out a cause whose text is already said.

use std::error::Error;

/// `e` and its sources joined by ": ", each source left out when the text so far already holds
/// it, and a message left out when the next cause starts with it (the cause says it again).
pub fn one_line(e: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        let said = parts.join(": ");
        if !text.is_empty() && !said.contains(&text) {
            // "tcp connect error" then "tcp connect error: Connection refused": keep the cause.
            if parts
                .last()
                .is_some_and(|last| text.starts_with(last.as_str()))
            {
                parts.pop();
            }
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);

    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn chain(texts: &[&'static str]) -> E {
        texts
            .iter()
            .rev()
            .fold(None, |cause, t| Some(E(t, cause.map(Box::new))))
            .unwrap()
    }

    #[test]
    fn each_cause_is_said_once() {
        let e = chain(&[
            "cannot read /x: No such file or directory (os error 2)",
            "No such file or directory (os error 2)",
        ]);
        assert_eq!(
            one_line(&e),
            "cannot read /x: No such file or directory (os error 2)"
        );
        let e = chain(&[
            "connecting to the manager at https://127.0.0.1:1",
            "transport error",
            "tcp connect error",
            "tcp connect error: Connection refused (os error 111)",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            one_line(&e),
            "connecting to the manager at https://127.0.0.1:1: transport error: tcp connect error: Connection refused (os error 111)"
        );
        let e = chain(&["a", "b", "c"]);
        assert_eq!(one_line(&e), "a: b: c");
    }
}
