//! Manifests as located trees: YAML (several documents per file) and JSON
//! (read by the same YAML 1.2 parser, of which JSON is a subset), each node
//! carrying its line and column so a problem can be shown compiler-style.
//!
//! The tree is built here from the parser's events rather than by a
//! library's loader, to put a limit on everything a file can ask for:
//! nesting depth, node count (an alias is copied, so a "billion laughs"
//! file would otherwise grow without bound) and the size of the text.
//!
//! Every node records whether a converter read it ([`Node::used`]): what is
//! left unread after a document is converted is reported as not modelled,
//! so nothing a manifest says is dropped silently.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use crate::input::{Diagnostic, Severity};

/// The largest manifest file read (bytes).
pub const TEXT_MAX: usize = 16 << 20;
/// The deepest nesting accepted.
const DEPTH_MAX: usize = 64;
/// The most nodes one file may hold, aliases counted as copies.
const NODES_MAX: usize = 200_000;

/// A YAML value with its position (1-based line and column).
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub line: usize,
    pub col: usize,
    used: Cell<bool>,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    /// A scalar's text (numbers and booleans too: converters read them).
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub col: usize,
    pub value: Node,
}

impl Node {
    fn new(value: Value, span: &Span) -> Self {
        Node {
            value,
            line: span.start.line(),
            col: span.start.col() + 1,
            used: Cell::new(false),
        }
    }

    /// Marks this node as read by a converter.
    pub fn mark(&self) {
        self.used.set(true);
    }

    pub fn used(&self) -> bool {
        self.used.get()
    }

    /// Marks this node and everything under it as read.
    pub fn mark_all(&self) {
        self.mark();
        match &self.value {
            Value::Seq(items) => items.iter().for_each(Node::mark_all),
            Value::Map(entries) => entries.iter().for_each(|e| e.value.mark_all()),
            _ => {}
        }
    }

    /// The value of `key` in a mapping (marked as read).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| {
                e.value.mark();
                &e.value
            }),
            _ => None,
        }
    }

    /// A scalar's text (`None` for a mapping, a sequence or null).
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(text) => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A sequence's items (each marked as read); empty for anything else.
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => {
                items.iter().for_each(Node::mark);
                items
            }
            _ => &[],
        }
    }

    /// A mapping's entries (each value marked as read); empty for anything else.
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => {
                entries.iter().for_each(|e| e.value.mark());
                entries
            }
            _ => &[],
        }
    }

    /// The topmost entries nobody read, under nodes that were read, with
    /// their paths below `path`.
    pub fn unread(&self, path: &str, out: &mut Vec<(String, usize, usize)>) {
        match &self.value {
            Value::Map(entries) => {
                for e in entries {
                    let p = join(path, &e.key);
                    if e.value.used() {
                        e.value.unread(&p, out);
                    } else {
                        out.push((p, e.line, e.col));
                    }
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    if item.used() {
                        item.unread(&p, out);
                    } else {
                        out.push((p, item.line, item.col));
                    }
                }
            }
            _ => {}
        }
    }
}

/// `a.b`, or `b` at the root.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// One document of a manifest file.
#[derive(Debug)]
pub struct Document {
    /// 1-based position in its file.
    pub index: usize,
    pub root: Node,
}

/// Reads every document of a YAML or JSON text. An error is a located
/// diagnostic (`file:line:column`, the line, a caret, what was expected).
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>, Diagnostic> {
    if text.len() > TEXT_MAX {
        return Err(Diagnostic::file_error(
            file.as_ref(),
            format!("the file is larger than {} MiB; a manifest is expected", TEXT_MAX >> 20),
        ));
    }
    if looks_like_json(file, text)
        && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text)
    {
        return Err(located(
            file,
            text,
            e.line(),
            e.column(),
            format!("invalid JSON: {}", strip_position(&e.to_string())),
        ));
    }
    let mut b = Builder {
        file,
        text,
        anchors: BTreeMap::new(),
        nodes: 0,
    };
    b.documents()
}

/// A `.json` file, or a text that opens like a JSON value: read with
/// serde_json first, whose messages say what JSON expected.
fn looks_like_json(file: &str, text: &str) -> bool {
    file.ends_with(".json") || text.trim_start().starts_with(['{', '['])
}

/// serde_json's message without its " at line L column C" tail (the
/// diagnostic shows the position itself).
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// A diagnostic at a 1-based line and column of `text`.
pub fn located(file: &str, text: &str, line: usize, col: usize, message: String) -> Diagnostic {
    // The parser's end-of-input mark can sit on the line after the last one
    // (a text without a final newline): point at the end of the last line.
    let lines: Vec<&str> = text.split('\n').collect();
    let (line, col) = if line > lines.len() {
        let last = lines.last().copied().unwrap_or("").trim_end_matches('\r');
        (lines.len(), last.chars().count() + 1)
    } else {
        (line, col)
    };
    let line_text = lines
        .get(line.saturating_sub(1))
        .copied()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_string();
    let col = col.min(line_text.chars().count() + 1);
    Diagnostic {
        severity: Severity::Error,
        file: file.into(),
        line: line.max(1),
        column: col.max(1),
        line_text,
        message,
    }
}

struct Builder<'a> {
    file: &'a str,
    text: &'a str,
    anchors: BTreeMap<usize, Node>,
    nodes: usize,
}

type Ev<'i> = (Event<'i>, Span);

impl<'a> Builder<'a> {
    fn scan_error(&self, e: &ScanError) -> Diagnostic {
        let m = e.marker();
        located(
            self.file,
            self.text,
            m.line(),
            m.col() + 1,
            format!("invalid YAML: {}", e.info()),
        )
    }

    fn error_at(&self, span: &Span, message: impl Into<String>) -> Diagnostic {
        located(
            self.file,
            self.text,
            span.start.line(),
            span.start.col() + 1,
            message.into(),
        )
    }

    fn next<'i>(&self, p: &mut Parser<'i, saphyr_parser::StrInput<'i>>) -> Result<Ev<'i>, Diagnostic> {
        match p.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(self.scan_error(&e)),
            None => Err(Diagnostic::file_error(
                self.file.as_ref(),
                "invalid YAML: the text ends in the middle of a value",
            )),
        }
    }

    fn documents(&mut self) -> Result<Vec<Document>, Diagnostic> {
        let mut p = Parser::new_from_str(self.text);
        let mut docs = Vec::new();
        loop {
            let (ev, span) = self.next(&mut p)?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    let first = self.next(&mut p)?;
                    let root = self.node(&mut p, first, 0)?;
                    let _ = span;
                    docs.push(Document {
                        index: docs.len() + 1,
                        root,
                    });
                }
                _ => return Err(self.error_at(&span, "invalid YAML: expected the start of a document")),
            }
        }
        Ok(docs)
    }

    fn count(&mut self, span: &Span, n: usize) -> Result<(), Diagnostic> {
        self.nodes += n;
        if self.nodes > NODES_MAX {
            return Err(self.error_at(
                span,
                format!(
                    "the file holds more than {NODES_MAX} values (aliases counted as copies); a manifest is expected"
                ),
            ));
        }
        Ok(())
    }

    fn node<'i>(
        &mut self,
        p: &mut Parser<'i, saphyr_parser::StrInput<'i>>,
        (ev, span): Ev<'i>,
        depth: usize,
    ) -> Result<Node, Diagnostic> {
        if depth > DEPTH_MAX {
            return Err(self.error_at(&span, format!("values nested deeper than {DEPTH_MAX} levels")));
        }
        self.count(&span, 1)?;
        let (node, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain;
                let tagged_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if plain && !tagged_str && is_null(&text) {
                    Value::Null
                } else {
                    Value::Scalar(text.into_owned())
                };
                (Node::new(value, &span), anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let ev = self.next(p)?;
                    if matches!(ev.0, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(p, ev, depth + 1)?);
                }
                (Node::new(Value::Seq(items), &span), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<Entry> = Vec::new();
                loop {
                    let (kev, kspan) = self.next(p)?;
                    if matches!(kev, Event::MappingEnd) {
                        break;
                    }
                    let key = match kev {
                        Event::Scalar(text, ..) => text,
                        Event::Alias(id) => match self.anchors.get(&id).and_then(|n| n.scalar()) {
                            Some(s) => Cow::Owned(s.to_string()),
                            None => return Err(self.error_at(&kspan, "a mapping key must be a plain text")),
                        },
                        _ => {
                            return Err(
                                self.error_at(&kspan, "a mapping key must be a plain text, not a list or a mapping")
                            );
                        }
                    };
                    if entries.iter().any(|e| e.key == key) {
                        return Err(self.error_at(&kspan, format!("duplicate key `{key}` in this mapping")));
                    }
                    self.count(&kspan, 1)?;
                    let vev = self.next(p)?;
                    let value = self.node(p, vev, depth + 1)?;
                    if key == "<<" {
                        // A merge key: the mapping's entries join this one
                        // (its own keys win), as Kubernetes' YAML reader does.
                        if let Value::Map(merged) = value.value {
                            for e in merged {
                                if !entries.iter().any(|x| x.key == e.key) {
                                    entries.push(e);
                                }
                            }
                            continue;
                        }
                    }
                    entries.push(Entry {
                        key: key.into_owned(),
                        line: kspan.start.line(),
                        col: kspan.start.col() + 1,
                        value,
                    });
                }
                (Node::new(Value::Map(entries), &span), anchor)
            }
            Event::Alias(id) => {
                let Some(n) = self.anchors.get(&id).cloned() else {
                    return Err(self.error_at(&span, "an alias to an unknown anchor"));
                };
                self.count(&span, size(&n))?;
                return Ok(n);
            }
            _ => return Err(self.error_at(&span, "invalid YAML: expected a value")),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

/// How many nodes a tree holds.
fn size(n: &Node) -> usize {
    1 + match &n.value {
        Value::Seq(items) => items.iter().map(size).sum(),
        Value::Map(entries) => entries.iter().map(|e| 1 + size(&e.value)).sum(),
        _ => 0,
    }
}

/// YAML 1.2's core-schema null: `~`, `null`, `Null`, `NULL`, or nothing.
fn is_null(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_several_documents_with_positions() {
        // Each document of a multi-document file is read, and every value keeps its line and column.
        let docs = parse("m.yaml", "a: 1\n---\nkind: X\nspec:\n  b: [1, 2]\n").unwrap();
        assert_eq!(docs.len(), 2);
        let spec = docs[1].root.get("spec").unwrap();
        let b = spec.get("b").unwrap();
        assert_eq!((b.line, b.col), (5, 6));
        assert_eq!(b.items().len(), 2);
    }

    #[test]
    fn a_syntax_error_is_located() {
        // A YAML syntax error names the line and column and shows the line.
        let d = parse("m.yaml", "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(d.message.starts_with("invalid YAML"), "{}", d.message);
        assert!(d.line >= 2, "{d:?}");
    }

    #[test]
    fn an_error_at_the_end_of_a_text_without_a_final_newline_points_into_it() {
        // Found by fuzzing: the parser marks the end of input on the line after the
        // last; the diagnostic must point at the end of the last line, which it shows.
        let text = "kind: PodChaos\nmetadata: { name: x, namespace: y";
        let d = parse("m.yaml", text).unwrap_err();
        assert_eq!(d.line, 2, "{d:?}");
        assert_eq!(d.line_text, "metadata: { name: x, namespace: y");
        assert!(d.column <= d.line_text.chars().count() + 1, "{d:?}");
    }

    #[test]
    fn json_errors_say_what_json_expected() {
        // A JSON file is checked as JSON first, so its message is JSON's.
        let d = parse("p.json", "[{\"name\": \"x\",}]").unwrap_err();
        assert_eq!((d.line, d.column), (1, 15));
        assert!(d.message.starts_with("invalid JSON"), "{}", d.message);
    }

    #[test]
    fn alias_bombs_are_refused() {
        // Aliases count as copies, so a file that doubles itself at every level is refused, not expanded.
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let d = parse("bomb.yaml", &text).unwrap_err();
        assert!(d.message.contains("more than"), "{}", d.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        // Nesting is limited, so a hostile file cannot exhaust the stack.
        let text = "[".repeat(500);
        assert!(parse("deep.yaml", &text).is_err());
    }

    #[test]
    fn unread_entries_are_listed_topmost_first() {
        // Entries no converter read are found, the topmost unread one of each branch only.
        let docs = parse("m.yaml", "spec:\n  a: 1\n  b: {c: 2}\n").unwrap();
        let spec = docs[0].root.get("spec").unwrap();
        spec.get("a");
        let mut out = Vec::new();
        docs[0].root.unread("", &mut out);
        assert_eq!(out, vec![("spec.b".to_string(), 3, 3)]);
    }
}
