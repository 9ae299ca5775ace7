//! [`StoragePath`]: a file path inside a tenant's directory, parsed once at the edge.

use super::StorageError;

const MAX_DEPTH: usize = 16;
const MAX_SEGMENT: usize = 255;

fn invalid(reason: impl Into<String>) -> StorageError {
    StorageError::InvalidPath(reason.into())
}

/// A relative path inside a tenant's directory: 1 to 16 segments of `[A-Za-z0-9._-]` (at most 255
/// characters each), none of them `.` or `..`. `%`, `\`, NUL and empty segments are refused, so
/// neither absolute nor (doubly) percent-encoded paths get through.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoragePath(String);

impl StoragePath {
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        if text.is_empty() {
            return Err(invalid("the path is empty"));
        }
        if text.starts_with('/') {
            return Err(invalid("the path must be relative"));
        }
        if text.split('/').count() > MAX_DEPTH {
            return Err(invalid(format!(
                "the path is deeper than {MAX_DEPTH} levels"
            )));
        }
        for s in text.split('/') {
            if s.is_empty() {
                return Err(invalid("the path has an empty segment"));
            }
            if s == "." || s == ".." {
                return Err(invalid("'.' and '..' are not allowed in a path"));
            }
            if s.len() > MAX_SEGMENT {
                return Err(invalid(format!(
                    "a path segment is longer than {MAX_SEGMENT} characters"
                )));
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            if let Some(c) = s.chars().find(|c| !allowed(*c)) {
                return Err(invalid(format!(
                    "{c:?} is not allowed in a path (use A-Z, a-z, 0-9, '.', '_', '-')"
                )));
            }
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments, outermost directory first; never empty.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The segments before the file name.
    pub(super) fn dirs(&self) -> impl Iterator<Item = &str> {
        self.0
            .rsplit_once('/')
            .map(|(d, _)| d)
            .into_iter()
            .flat_map(|d| d.split('/'))
    }

    pub(super) fn file_name(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, f)| f)
    }
}

impl std::fmt::Display for StoragePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_are_accepted() {
        for ok in [
            "a",
            "report.pdf",
            "a/b/c.txt",
            "2024/Q1_final-v2.tar.gz",
            "...",
            ".hidden",
        ] {
            assert_eq!(StoragePath::parse(ok).unwrap().as_str(), ok);
        }
        let p = StoragePath::parse("a/b/c.txt").unwrap();
        assert_eq!(p.dirs().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p.file_name(), "c.txt");
        assert_eq!(StoragePath::parse("x").unwrap().dirs().count(), 0);
    }

    #[test]
    fn traversal_absolute_and_encoded_paths_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "..",
            ".",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "a\\..\\b",
            "..%2f..%2fetc",
            "%2e%2e/x",
            "%252e%252e",
            "a\0b",
            "C:x",
            "a b",
            "é",
        ] {
            let e = StoragePath::parse(bad).unwrap_err();
            assert!(matches!(e, StorageError::InvalidPath(_)), "{bad:?}: {e}");
        }
    }

    #[test]
    fn segment_length_and_depth_are_bounded() {
        assert!(StoragePath::parse(&"a".repeat(255)).is_ok());
        assert!(StoragePath::parse(&"a".repeat(256)).is_err());
        assert!(StoragePath::parse(&["d"; 16].join("/")).is_ok());
        assert!(StoragePath::parse(&["d"; 17].join("/")).is_err());
    }
}
