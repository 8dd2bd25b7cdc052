//! Command output → `cmd_output` texts (spec 7.1 and 7.3): where a chunk is cut, `\r\n`
//! turned into `\n`, and invalid UTF-8 replaced byte by byte as Go's JSON encoder does.
//!
//! Pure: the caller says when data arrived and what time it is, so the rules are tested
//! without a PTY or a clock. The buffer never holds more than one PTY read plus one chunk.

use std::time::{Duration, Instant};

/// A chunk is emitted once the buffer holds this many bytes, and no chunk is larger while
/// the command runs.
pub const CHUNK_BYTES: usize = 100;
/// The largest chunk once the command has ended and the rest is drained.
pub const DRAIN_CHUNK_BYTES: usize = 1000;
/// Data that sat this long without more arriving is emitted even if short.
pub const IDLE_FLUSH: Duration = Duration::from_millis(100);

/// The per-command output buffer.
#[derive(Debug, Default)]
pub struct OutputChunker {
    buf: Vec<u8>,
    last_append: Option<Instant>,
}

impl OutputChunker {
    /// An empty buffer.
    pub fn new() -> OutputChunker {
        OutputChunker::default()
    }

    /// Whether bytes are waiting.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Appends command output received at `now`, then hands every full chunk to `emit`.
    pub fn push(&mut self, data: &[u8], now: Instant, emit: &mut dyn FnMut(String)) {
        if data.is_empty() {
            return;
        }
        self.buf.extend_from_slice(data);
        self.last_append = Some(now);
        // Cut full chunks off the front, then move the rest down once (not once per chunk).
        let mut start = 0;
        while self.buf.len() - start >= CHUNK_BYTES {
            let cut = cut_point(&self.buf[start..], CHUNK_BYTES, false);
            if cut == 0 {
                break;
            }
            emit(chunk_text(&self.buf[start..start + cut]));
            start += cut;
        }
        self.buf.drain(..start);
    }

    /// Emits what has sat for [`IDLE_FLUSH`] or more (in chunks of at most [`CHUNK_BYTES`]).
    pub fn tick(&mut self, now: Instant, emit: &mut dyn FnMut(String)) {
        let idle = self
            .last_append
            .is_some_and(|at| now.saturating_duration_since(at) >= IDLE_FLUSH);
        if idle {
            self.flush_all(CHUNK_BYTES, emit);
        }
    }

    /// When the next [`tick`](Self::tick) could emit something, if anything is waiting.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.buf.is_empty() {
            return None;
        }
        self.last_append.map(|at| at + IDLE_FLUSH)
    }

    /// The command ended: emits everything left, in chunks of at most [`DRAIN_CHUNK_BYTES`].
    pub fn drain(&mut self, emit: &mut dyn FnMut(String)) {
        self.flush_all(DRAIN_CHUNK_BYTES, emit);
        self.last_append = None;
    }

    fn flush_all(&mut self, max: usize, emit: &mut dyn FnMut(String)) {
        while !self.buf.is_empty() {
            let cut = cut_point(&self.buf, max, true).max(1);
            self.emit_front(cut, emit);
        }
    }

    fn emit_front(&mut self, cut: usize, emit: &mut dyn FnMut(String)) {
        let text = chunk_text(&self.buf[..cut]);
        self.buf.drain(..cut);
        emit(text);
    }
}

/// Where to cut `buf` for a chunk of at most `max` bytes: never inside a UTF-8 sequence
/// (moving back at most 3 bytes, so up to 4 bytes are looked at) and never between `\r` and
/// `\n`. With `complete == false` more data may follow, so a trailing incomplete UTF-8
/// sequence or a trailing `\r` is held back as well. May return 0 (nothing to cut yet).
pub fn cut_point(buf: &[u8], max: usize, complete: bool) -> usize {
    let mut cut = buf.len().min(max);
    if cut == 0 {
        return 0;
    }
    let at_end = cut == buf.len();
    if !at_end || !complete {
        cut = utf8_boundary(buf, cut);
    }
    if cut > 0 && buf[cut - 1] == b'\r' {
        let next_is_lf = buf.get(cut) == Some(&b'\n');
        let unknown_next = cut == buf.len() && !complete;
        if (next_is_lf || unknown_next) && cut > 1 {
            cut -= 1;
        } else if unknown_next {
            // A lone `\r` is all there is: wait for what follows.
            cut = 0;
        }
    }
    cut
}

/// Moves `cut` back so it does not split the UTF-8 sequence that starts before it. Bytes that
/// are not part of a well-formed prefix are left where they are (they are replaced anyway).
fn utf8_boundary(buf: &[u8], cut: usize) -> usize {
    // Look at up to 3 bytes before the cut for the lead byte of a sequence that crosses it.
    for back in 1..=3.min(cut) {
        let i = cut - back;
        let b = buf[i];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: keep looking for its lead
        }
        let len = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return cut, // ASCII or an invalid lead: nothing to protect
        };
        if back < len && std::str::from_utf8(&buf[i..cut]).is_err() && is_utf8_prefix(&buf[i..cut])
        {
            // The sequence needs bytes at or after the cut: cut before its lead, unless that
            // empties the chunk.
            return if i > 0 { i } else { cut };
        }
        return cut;
    }
    cut
}

/// Whether `bytes` (a lead byte and some continuation bytes) could still become a valid
/// sequence.
fn is_utf8_prefix(bytes: &[u8]) -> bool {
    matches!(
        std::str::from_utf8(bytes),
        Err(e) if e.valid_up_to() == 0 && e.error_len().is_none()
    )
}

/// The text of one chunk: `\r\n` → `\n`, each invalid byte → U+FFFD.
pub fn chunk_text(bytes: &[u8]) -> String {
    let mut cleaned = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        cleaned.push(bytes[i]);
        i += 1;
    }
    go_lossy(&cleaned)
}

/// UTF-8 text with each invalid byte replaced by one U+FFFD, as Go's `encoding/json` does
/// (Rust's `from_utf8_lossy` uses one U+FFFD per maximal invalid sequence instead).
pub fn go_lossy(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{FFFD}');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(f: impl FnOnce(&mut OutputChunker, &mut dyn FnMut(String))) -> Vec<String> {
        let mut out = Vec::new();
        let mut chunker = OutputChunker::new();
        f(&mut chunker, &mut |s| out.push(s));
        out
    }

    #[test]
    fn short_lines_printed_together_form_one_event() {
        let t = Instant::now();
        let out = collect(|c, e| {
            c.push(b"hello\r\n", t, e);
            c.push(b"600\r\n", t, e);
            c.tick(t + Duration::from_millis(50), e);
            c.tick(t + IDLE_FLUSH, e);
        });
        assert_eq!(out, ["hello\n600\n"]);
    }

    #[test]
    fn lines_with_pauses_form_separate_events() {
        let t = Instant::now();
        let out = collect(|c, e| {
            c.push(b"1\r\n", t, e);
            c.tick(t + IDLE_FLUSH, e);
            c.push(b"2\r\n", t + Duration::from_secs(1), e);
            c.drain(e);
        });
        assert_eq!(out, ["1\n", "2\n"]);
    }

    #[test]
    fn long_output_is_cut_into_100_byte_events_while_running() {
        let t = Instant::now();
        let data = vec![b'a'; 250];
        let out = collect(|c, e| {
            c.push(&data, t, e);
            c.tick(t + IDLE_FLUSH, e);
        });
        let lens: Vec<usize> = out.iter().map(String::len).collect();
        assert_eq!(lens, [100, 100, 50]);
    }

    #[test]
    fn drain_uses_1000_byte_events() {
        let mut c = OutputChunker::new();
        c.buf = vec![b'x'; 2500];
        let mut out = Vec::new();
        c.drain(&mut |s| out.push(s.len()));
        assert_eq!(out, [1000, 1000, 500]);
    }

    #[test]
    fn a_utf8_sequence_is_never_split() {
        // 99 ASCII bytes then "é" (2 bytes): the cut at 100 would split it.
        let mut data = vec![b'a'; 99];
        data.extend_from_slice("é".as_bytes());
        data.extend_from_slice(b"bc");
        let t = Instant::now();
        let out = collect(|c, e| {
            c.push(&data, t, e);
            c.drain(e);
        });
        assert_eq!(out[0].len(), 99);
        assert_eq!(out[1], "ébc");
    }

    #[test]
    fn a_4_byte_sequence_is_never_split() {
        let mut data = vec![b'a'; 98];
        data.extend_from_slice("😀".as_bytes());
        assert_eq!(cut_point(&data, 100, false), 98);
    }

    #[test]
    fn a_crlf_pair_is_never_split() {
        let mut data = vec![b'a'; 99];
        data.extend_from_slice(b"\r\nb");
        let t = Instant::now();
        let out = collect(|c, e| {
            c.push(&data, t, e);
            c.drain(e);
        });
        assert_eq!(out, ["a".repeat(99), "\nb".to_owned()]);
    }

    #[test]
    fn a_lone_cr_is_kept() {
        assert_eq!(chunk_text(b"10%\r20%\r\n"), "10%\r20%\n");
    }

    #[test]
    fn invalid_bytes_are_replaced_one_by_one() {
        assert_eq!(go_lossy(&[0x96; 5]), "\u{FFFD}".repeat(5));
        // A truncated 3-byte sequence: Go gives one U+FFFD per byte, Rust's lossy gives one.
        assert_eq!(go_lossy(&[0xE2, 0x82, b'a']), "\u{FFFD}\u{FFFD}a");
    }

    #[test]
    fn a_run_of_invalid_bytes_is_cut_at_the_limit() {
        let data = vec![0x96; 150];
        assert_eq!(cut_point(&data, 100, false), 100);
    }

    #[test]
    fn a_trailing_incomplete_sequence_waits_while_more_may_come() {
        let data = [b'a', 0xE2, 0x82];
        assert_eq!(cut_point(&data, 100, false), 1);
        assert_eq!(cut_point(&data, 100, true), 3);
    }

    #[test]
    fn nothing_is_flushed_before_the_idle_time() {
        let t = Instant::now();
        let out = collect(|c, e| {
            c.push(b"x", t, e);
            c.tick(t + Duration::from_millis(99), e);
        });
        assert!(out.is_empty());
    }
}
