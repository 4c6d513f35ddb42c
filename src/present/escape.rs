//! The one escaper for text placed in markup: the HTML report and index,
//! and JUnit XML. (Chart SVGs are escaped by plotters' SVG backend.)
//!
//! Both dialects escape the five markup characters; they differ in two
//! things the files have always had: an apostrophe is `&#39;` in HTML (the
//! reference every HTML version knows) and `&apos;` in XML, and XML 1.0
//! forbids most control characters outright, so there they become U+FFFD
//! (�) rather than making the file unreadable.

/// Which markup the text goes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Markup {
    Html,
    Xml,
}

/// `text` made safe for element content and quoted attribute values.
pub fn escape(text: &str, markup: Markup) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' if markup == Markup::Html => out.push_str("&#39;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if markup == Markup::Xml && ((c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}') => {
                out.push('\u{FFFD}')
            }
            c => out.push(c),
        }
    }
    out
}

/// [`escape`] for HTML.
pub fn html(text: &str) -> String {
    escape(text, Markup::Html)
}

/// [`escape`] for XML.
pub fn xml(text: &str) -> String {
    escape(text, Markup::Xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_make_html_and_xml_safe_text() {
        // Markup characters are escaped in both; control characters are replaced in XML only.
        assert_eq!(html("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
        assert_eq!(xml("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}");
        assert_eq!(html("a\u{1}\tb"), "a\u{1}\tb");
    }
}
