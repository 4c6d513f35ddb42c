//! Diagnostics: problems in a user's file, located and shown compiler-style.
//!
//! Every problem found while reading a file becomes a [`Diagnostic`] carrying
//! the file, the 1-based line and column, the offending line and a message
//! that says what was expected. Loading collects all of them before giving
//! up, so a user fixes a file in one pass.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// How bad a diagnostic is: errors stop a run, warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    /// A catalog rule (owner, hypothesis, rollback, declared blast radius):
    /// a warning for `run`, an error for `validate`.
    CatalogRule,
}

/// One located problem in a user's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column (in characters); 0 when unknown.
    pub column: usize,
    /// The offending line, without its newline.
    pub line_text: String,
    pub message: String,
}

impl Diagnostic {
    /// A problem with a file as a whole (missing, unreadable, not UTF-8).
    pub fn file_error(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            line_text: String::new(),
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::CatalogRule => "catalog rule",
        };
        if self.line == 0 {
            return write!(f, "{}: {kind}: {}", self.file.display(), self.message);
        }
        writeln!(
            f,
            "{}:{}:{}: {kind}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        let gutter = self.line.to_string();
        writeln!(f, "{} | {}", gutter, self.line_text)?;
        // The caret line copies the tabs of the text before the column so it
        // lines up in a terminal, and stops at the end of the line.
        let pad: String = self
            .line_text
            .chars()
            .chain(std::iter::repeat(' '))
            .take(self.column.saturating_sub(1).min(self.line_text.chars().count()))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{} | {pad}^", " ".repeat(gutter.len()))
    }
}

/// One step of a path into a TOML document: a key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
    /// A key the user chose (a namespace, a label key), shown as TOML
    /// writes it: quoted unless it is a bare key.
    Quoted(String),
}

/// A path into a TOML document such as `services[2].calls[0].to`, used to
/// name a problem in the message and to find its position in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by a key.
    pub fn k(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.to_string()));
        p
    }

    /// This path extended by a key the user chose, shown quoted when TOML
    /// would quote it (`labels."app.kubernetes.io/name"`).
    pub fn quoted(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Quoted(key.to_string()));
        p
    }

    /// This path extended by an array index.
    pub fn i(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(index));
        p
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if n == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Quoted(k) => {
                    let bare = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
                    let dot = if n == 0 { "" } else { "." };
                    if bare {
                        write!(f, "{dot}{k}")?
                    } else {
                        write!(f, "{dot}{k:?}")?
                    }
                }
            }
        }
        Ok(())
    }
}

/// A file's text and name, able to turn byte spans and key paths into
/// located diagnostics.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Source {
            path: path.into(),
            text: text.into(),
        }
    }

    /// A diagnostic at a byte span (its start is what gets pointed at).
    pub fn at_span(&self, severity: Severity, span: Option<Range<usize>>, message: impl Into<String>) -> Diagnostic {
        let start = span.map(|s| s.start).unwrap_or(0).min(self.text.len());
        let (line, column, line_text) = line_col(&self.text, start);
        Diagnostic {
            severity,
            file: self.path.clone(),
            line,
            column,
            line_text,
            message: message.into(),
        }
    }

    /// An error at the value a key path names, with the path leading the message.
    pub fn error(&self, path: &KeyPath, message: impl fmt::Display) -> Diagnostic {
        self.at_path(Severity::Error, path, message)
    }

    /// A warning at the value a key path names.
    pub fn warning(&self, path: &KeyPath, message: impl fmt::Display) -> Diagnostic {
        self.at_path(Severity::Warning, path, message)
    }

    fn at_path(&self, severity: Severity, path: &KeyPath, message: impl fmt::Display) -> Diagnostic {
        let span = locate(&self.text, path);
        let text = if path.0.is_empty() {
            message.to_string()
        } else {
            format!("{path}: {message}")
        };
        self.at_span(severity, span, text)
    }
}

/// The problems found while resolving one file (stage two): every check
/// adds to it and carries on, so a file's problems are reported together.
pub struct Ctx<'a> {
    pub src: &'a Source,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub fn new(src: &'a Source) -> Self {
        Ctx { src, diags: Vec::new() }
    }

    pub fn err(&mut self, path: &KeyPath, msg: impl fmt::Display) {
        let d = self.src.error(path, msg);
        self.diags.push(d);
    }

    pub fn warn(&mut self, path: &KeyPath, msg: impl fmt::Display) {
        let d = self.src.warning(path, msg);
        self.diags.push(d);
    }

    /// A catalog rule broken: `validate` refuses it, `run` only warns.
    pub fn rule(&mut self, path: &KeyPath, msg: impl fmt::Display) {
        let mut d = self.src.warning(path, msg);
        d.severity = Severity::CatalogRule;
        self.diags.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(|d| d.is_error())
    }

    /// An error at `path` unless `ok`; returns `ok`.
    pub fn check(&mut self, path: &KeyPath, ok: bool, msg: impl fmt::Display) -> bool {
        if !ok {
            self.err(path, msg);
        }
        ok
    }

    /// Checks a number is finite and within [lo, hi].
    pub fn in_range(&mut self, path: &KeyPath, v: f64, lo: f64, hi: f64, what: &str) -> bool {
        if v.is_finite() && v >= lo && v <= hi {
            true
        } else {
            self.err(path, format!("{what} must be between {lo} and {hi}, found {v}"));
            false
        }
    }

    /// A count written as `v` (or `default` when left out), checked within
    /// [lo, hi]; out of range gives `lo` (the model is discarded anyway).
    pub fn count_in_range(
        &mut self,
        path: &KeyPath,
        v: Option<i64>,
        default: i64,
        lo: i64,
        hi: i64,
        what: &str,
    ) -> u32 {
        let v = v.unwrap_or(default);
        if v < lo || v > hi {
            self.err(path, format!("{what} must be between {lo} and {hi}, found {v}"));
            return lo.max(0) as u32;
        }
        v as u32
    }
}

/// 1-based line and character column of a byte offset, with that line's text.
fn line_col(text: &str, offset: usize) -> (usize, usize, String) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset..].find('\n').map(|i| offset + i).unwrap_or(text.len());
    let line = text[..offset].matches('\n').count() + 1;
    let column = text[line_start..offset].chars().count() + 1;
    let line_text = text[line_start..line_end].trim_end_matches('\r').to_string();
    (line, column, line_text)
}

/// The byte span of the value at `path`, or of its deepest existing ancestor.
/// The document is parsed again: this runs only when reporting a problem.
pub fn locate(text: &str, path: &KeyPath) -> Option<Range<usize>> {
    let (root, _) = DeTable::parse_recoverable(text);
    let mut span = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut value: Option<&DeValue<'_>> = None;
    for seg in &path.0 {
        match seg {
            Seg::Key(k) | Seg::Quoted(k) => {
                let t = match (table, value) {
                    (Some(t), _) => t,
                    (None, Some(v)) => v.as_table()?,
                    _ => return span,
                };
                let Some(v) = t.get(k.as_str()) else {
                    return span;
                };
                span = Some(v.span());
                value = Some(v.get_ref());
                table = None;
            }
            Seg::Index(i) => {
                let arr = match value.and_then(|v| v.as_array()) {
                    Some(a) => a,
                    None => return span,
                };
                let Some(v) = arr.get(*i) else {
                    return span;
                };
                span = Some(v.span());
                value = Some(v.get_ref());
                table = None;
            }
        }
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_array_value() {
        // A path through an array of tables points at the right line.
        let text = "name = \"x\"\n[[services]]\nname = \"a\"\n[[services]]\nname = \"b\"\nto = 3\n";
        let src = Source::new("t.toml", text);
        let d = src.error(&KeyPath::root().k("services").i(1).k("to"), "bad");
        assert_eq!((d.line, d.column), (6, 6));
        assert_eq!(d.line_text, "to = 3");
        assert_eq!(d.message, "services[1].to: bad");
    }

    #[test]
    fn line_col_counts_characters_not_bytes() {
        // Columns count characters: byte 9 is the `b` after the two-byte `à`, column 2.
        let (line, col, text) = line_col("é = 1\nàb = 2", 9);
        assert_eq!((line, col, text.as_str()), (2, 2, "àb = 2"));
    }
}
