//! Finding and reading the user's files: the `.toml` files a command is
//! given (files as named, folders searched), read as UTF-8 text. Every
//! problem is a file-level [`Diagnostic`].

use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, Source};

/// How deep folders are searched (so a symlink loop ends).
const DEPTH_MAX: usize = 16;

/// Reads a file's bytes as a [`Source`]; missing, unreadable and non-UTF-8
/// files become diagnostics.
pub fn read_source(path: &Path) -> Result<Source, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "file not found".to_string(),
            _ => format!("cannot read file: {e}"),
        };
        Diagnostic::file_error(path, what)
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Diagnostic::file_error(
            path,
            format!(
                "not a UTF-8 text file (invalid byte at offset {}); expected a TOML file",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(Source::new(path, text))
}

/// The `.toml` files named by `paths`: files as given, folders searched
/// recursively, in sorted order. A path that does not exist is a diagnostic.
pub fn collect_toml(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk_files(p, &|f| f.extension().is_some_and(|x| x == "toml"), &mut found);
            found.sort();
            if found.is_empty() {
                diags.push(Diagnostic::file_error(p, "no .toml files in this folder"));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            diags.push(Diagnostic::file_error(p, "file not found"));
        }
    }
    (files, diags)
}

/// Files under `dir` (16 levels deep at most, so a symlink loop ends) that
/// `keep` accepts, in the order the file system lists them.
pub fn walk_files(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    fn go(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>, depth: usize) {
        if depth > DEPTH_MAX {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                go(&p, keep, out, depth + 1);
            } else if keep(&p) {
                out.push(p);
            }
        }
    }
    go(dir, keep, out, 0)
}

/// A path without `.` and `..` segments, for recognising the same file.
pub fn normalize(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
