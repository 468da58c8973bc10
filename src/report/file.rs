//! A report file opened before the run and written only once its report
//! is: until the first write it is neither truncated nor, if the harness
//! created it, kept. A run refused or abandoned before its report leaves
//! the path as it was: no empty file, and no earlier report lost.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct ReportFile {
    path: PathBuf,
    file: File,
    /// The harness made the file: removed again if nothing is written.
    created: bool,
    written: bool,
}

impl ReportFile {
    /// Opens `path` for writing, creating it if it does not exist; an
    /// existing file keeps its contents until the first write.
    pub fn open(path: &Path) -> io::Result<ReportFile> {
        let (file, created) = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => (OpenOptions::new().write(true).open(path)?, false),
            Err(e) => return Err(e),
        };
        Ok(ReportFile { path: path.to_owned(), file, created, written: false })
    }
}

impl Write for ReportFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.written {
            // Devices and pipes (`/dev/stdout`, `/dev/full`) have nothing to cut.
            if self.file.metadata()?.is_file() {
                self.file.set_len(0)?;
            }
            self.written = true;
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        if self.created && !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_the_harness_created_goes_if_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        drop(ReportFile::open(&path).unwrap());
        assert!(!path.exists());
    }

    #[test]
    fn an_earlier_report_stays_whole_if_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "earlier report").unwrap();
        drop(ReportFile::open(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier report");
    }

    #[test]
    fn a_written_report_replaces_the_earlier_one_entirely() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "a much longer earlier report").unwrap();
        let mut f = ReportFile::open(&path).unwrap();
        f.write_all(b"{}").unwrap();
        f.write_all(b"\n").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
        let new = dir.path().join("new.json");
        let mut f = ReportFile::open(&new).unwrap();
        f.write_all(b"x").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "x");
    }
}
