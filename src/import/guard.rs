//! Bounds the memory one CSV row can take: an unclosed quote near the top of a
//! large file would otherwise make the rest of the file one cell in memory.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Far beyond any real row (cells over 64 KiB are rejected anyway), small enough
/// that memory stays bounded.
pub const MAX_ROW_BYTES: u64 = 64 * 1024 * 1024;

/// A reader that fails once more than `MAX_ROW_BYTES` were read since the last
/// `next_row`. The CSV reader buffers ahead, so the count is a few KiB generous.
pub struct RowSizeGuard<R> {
    inner: R,
    read_in_row: Arc<AtomicU64>,
}

/// The handle the import loop keeps to start each row's count afresh.
pub struct RowCounter(Arc<AtomicU64>);

impl<R: Read> RowSizeGuard<R> {
    pub fn new(inner: R) -> (RowSizeGuard<R>, RowCounter) {
        let read_in_row = Arc::new(AtomicU64::new(0));
        let counter = RowCounter(read_in_row.clone());
        (RowSizeGuard { inner, read_in_row }, counter)
    }
}

impl RowCounter {
    pub fn next_row(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

impl<R: Read> Read for RowSizeGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read_in_row.load(Ordering::Relaxed) > MAX_ROW_BYTES {
            return Err(io::Error::other(format!(
                "a row longer than {} MiB: the file is damaged (an unclosed quote?)",
                MAX_ROW_BYTES / (1024 * 1024)
            )));
        }
        let n = self.inner.read(buf)?;
        self.read_in_row.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_a_runaway_row_and_not_a_long_file() {
        let long_file = io::repeat(b'x').take(3 * MAX_ROW_BYTES);
        let (mut guarded, counter) = RowSizeGuard::new(long_file);
        let mut buf = vec![0; 1024 * 1024];
        let mut total = 0;
        loop {
            // A row boundary every MiB: the file reads to its end.
            counter.next_row();
            match guarded.read(&mut buf).unwrap() {
                0 => break,
                n => total += n as u64,
            }
        }
        assert_eq!(total, 3 * MAX_ROW_BYTES);

        let (mut guarded, _) = RowSizeGuard::new(io::repeat(b'"').take(3 * MAX_ROW_BYTES));
        assert!(io::copy(&mut guarded, &mut io::sink()).is_err());
    }
}
