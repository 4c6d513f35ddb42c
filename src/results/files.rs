//! The one way chaoscal writes a file: into a temporary file in the same
//! folder, renamed over the target once complete.
//!
//! A rename within a folder is atomic, so a reader — or a run killed
//! half-way — sees the old file or the new one, never a half-written
//! `summary.json`. The temporary name starts with a dot and ends in `.tmp`
//! (`.summary.json.<pid>.tmp`), so nothing that looks for result files
//! picks it up; a process killed while writing leaves at most that file
//! behind. The data is not flushed to the disk (`fsync`): that would guard
//! against a power cut, not against a killed run, and costs a disk wait
//! per chart.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The temporary name a file is written under before it is renamed to `path`.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `path` through `fill`, which gets a buffered writer; the file
/// appears under its name only when `fill` succeeded.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let tmp = temporary(path);
    let result = File::create(&tmp).and_then(|file| {
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?;
        std::fs::rename(&tmp, path)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` (see [`write_with`]).
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    write_with(path, |w| w.write_all(bytes.as_ref()))
}

/// Writes a CSV file: `fill` gets a [`csv::Writer`] (see [`write_with`]).
pub fn write_csv(
    path: &Path,
    fill: impl FnOnce(&mut csv::Writer<&mut dyn Write>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    write_with(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        fill(&mut csv)?;
        csv.flush()
    })
}

/// Creates the folder `dir` (and its parents) and checks that a file can
/// be written in it, so that a run finds out before it simulates, not after.
pub fn ensure_writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".chaoscal-write-check.{}.tmp", std::process::id()));
    File::create(&probe)?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        // A writer that fails half-way leaves the previous bytes in place and cleans up after itself.
        let dir = std::env::temp_dir().join(format!("chaoscal-files-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("summary.json");
        write(&path, "old\n").unwrap();
        let failed = write_with(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("killed"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        write(&path, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
