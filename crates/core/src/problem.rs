//! [`Problem`]: one thing wrong with the configuration, at a key path. Every part of the hub
//! (server, store, engine, every connector) reports its configuration problems with this type,
//! so `check-config` lists them all the same way.

use std::fmt;

/// One thing wrong with the configuration, at a key path such as `source.shop.secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path (`""` for the table itself).
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same problem seen from the table at `prefix` (`source.shop` + `secret`).
    pub fn under(self, prefix: &str) -> Problem {
        let path = match (prefix.is_empty(), self.path.is_empty()) {
            (true, _) => self.path,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{}", self.path),
        };
        Problem { path, ..self }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest() {
        let p = Problem::new("secret", "must not be empty").under("source.shop");
        assert_eq!(p.to_string(), "source.shop.secret: must not be empty");
        let p = Problem::new("", "bad").under("channel.x");
        assert_eq!(p.to_string(), "channel.x: bad");
    }
}
