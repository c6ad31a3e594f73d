//! Files that hold consultations (the SQLite database, mail written by the `file` transport)
//! are made readable by their owner alone, 0600 in folders of 0700, whatever the umask the
//! service was started with (docs/CONTRACT.md §6). SQLite gives its WAL and SHM files the
//! database file's own mode, so creating that file 0600 covers them.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and any missing parents 0700; folders already there are left as they are.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `path` empty and 0600 when it does not exist yet; an existing file is untouched.
pub fn ensure_file(path: &Path) -> std::io::Result<()> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .open(path)
        .map(drop)
}

/// Writes `bytes` to `path`, created 0600 (replacing what was there).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_and_folders_are_the_owners_alone() {
        let base = std::env::temp_dir().join(format!(
            "madoguchi_private_{}",
            crate::random::hex_string::<8>()
        ));
        let dir = base.join("a/b");
        create_dir_all(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&base), DIR_MODE);
        assert_eq!(mode(&dir), DIR_MODE);
        write(&dir.join("m.eml"), b"x").unwrap();
        assert_eq!(mode(&dir.join("m.eml")), FILE_MODE);
        ensure_file(&dir.join("db")).unwrap();
        assert_eq!(mode(&dir.join("db")), FILE_MODE);
        std::fs::remove_dir_all(base).unwrap();
    }
}
