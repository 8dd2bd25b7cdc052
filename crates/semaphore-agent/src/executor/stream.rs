//! Splits what the PTY prints while one command runs into "before the start mark" (dropped),
//! the command's output, and the end mark with the exit code (spec 9.2 step 4).
//!
//! Pure and incremental: bytes are fed as they are read, in pieces of any size, and the
//! parser keeps at most a mark's length of them.

/// The first part of both marks (spec 9.2 step 2).
pub const MARK_PREFIX: &str = "949556c7";

/// The two marks of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marks {
    /// `949556c7-<secs>-start`.
    pub start: String,
    /// `949556c7-<secs>-end`.
    pub end: String,
}

impl Marks {
    /// The marks for a command started at `unix_secs`.
    pub fn new(unix_secs: i64) -> Marks {
        Marks {
            start: format!("{MARK_PREFIX}-{unix_secs}-start"),
            end: format!("{MARK_PREFIX}-{unix_secs}-end"),
        }
    }

    /// The line written to the PTY to run the command in `cmd_file` (spec 9.2 step 3).
    pub fn instruction(&self, cmd_file: &str) -> String {
        format!(
            "echo -e \"\\001 {start}\"; source {cmd_file}; AGENT_CMD_RESULT=$?; echo -e \"\\001 {end} $AGENT_CMD_RESULT\"; echo \"exit $AGENT_CMD_RESULT\" | sh\n",
            start = self.start,
            end = self.end,
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    WaitStart,
    Output,
    /// A 0x01 was seen; the bytes from it are held in `held`.
    MaybeEnd,
    Done(i32),
}

/// What one command printed, fed piece by piece.
#[derive(Debug)]
pub struct CommandStream {
    start: Vec<u8>,
    end: Vec<u8>,
    phase: Phase,
    held: Vec<u8>,
}

impl CommandStream {
    /// A parser waiting for `marks.start`.
    pub fn new(marks: &Marks) -> CommandStream {
        let mut start = marks.start.clone().into_bytes();
        start.extend_from_slice(b"\r\n");
        CommandStream {
            start,
            end: marks.end.clone().into_bytes(),
            phase: Phase::WaitStart,
            held: Vec::new(),
        }
    }

    /// The exit code, once the end mark was read.
    pub fn exit_code(&self) -> Option<i32> {
        match self.phase {
            Phase::Done(code) => Some(code),
            _ => None,
        }
    }

    /// Feeds bytes; command output goes to `output`. Returns the exit code once the end
    /// mark was read (bytes after it are ignored: the next command waits for its own start).
    pub fn feed(&mut self, mut data: &[u8], output: &mut dyn FnMut(&[u8])) -> Option<i32> {
        while !data.is_empty() {
            match self.phase {
                Phase::Done(code) => return Some(code),
                Phase::WaitStart => {
                    self.held.extend_from_slice(data);
                    data = &[];
                    if let Some(at) = find(&self.held, &self.start) {
                        let rest = self.held.split_off(at + self.start.len());
                        self.held.clear();
                        self.phase = Phase::Output;
                        return self.feed(&rest, output);
                    }
                    // Keep only what could still be the beginning of the mark.
                    let keep = self.start.len() - 1;
                    if self.held.len() > keep {
                        self.held.drain(..self.held.len() - keep);
                    }
                }
                Phase::Output => match data.iter().position(|b| *b == 0x01) {
                    None => {
                        output(data);
                        data = &[];
                    }
                    Some(at) => {
                        output(&data[..at]);
                        self.held.clear();
                        self.phase = Phase::MaybeEnd;
                        data = &data[at..];
                    }
                },
                Phase::MaybeEnd => {
                    // Take one byte at a time into `held` so that a failed match can hand
                    // the rest back to the output phase without copying more than a mark.
                    self.held.push(data[0]);
                    data = &data[1..];
                    match match_end(&self.held, &self.end) {
                        EndMatch::Found(code) => {
                            self.held.clear();
                            self.phase = Phase::Done(code);
                            return Some(code);
                        }
                        EndMatch::NeedMore if self.held.len() < self.end.len() + 10 => {}
                        EndMatch::NeedMore | EndMatch::No => {
                            // A stray 0x01 in the user's output: it is output, and what
                            // followed it is looked at again (it may hold the real mark).
                            let held = std::mem::take(&mut self.held);
                            output(&held[..1]);
                            self.phase = Phase::Output;
                            self.feed(&held[1..], output);
                        }
                    }
                }
            }
        }
        self.exit_code()
    }
}

enum EndMatch {
    Found(i32),
    NeedMore,
    No,
}

/// Matches `<END> (\d+)[\r\n]+` in `held` (which starts with 0x01).
fn match_end(held: &[u8], end: &[u8]) -> EndMatch {
    let Some(at) = find(held, end) else {
        // Could the mark still be completed by more bytes?
        return if held.len() < end.len() + 2 {
            EndMatch::NeedMore
        } else {
            EndMatch::No
        };
    };
    let rest = &held[at + end.len()..];
    let Some((&space, rest)) = rest.split_first() else {
        return EndMatch::NeedMore;
    };
    if space != b' ' {
        return EndMatch::No;
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    match rest.get(digits) {
        None => EndMatch::NeedMore,
        Some(b'\r' | b'\n') if digits > 0 => {
            let text = std::str::from_utf8(&rest[..digits]).unwrap_or("1");
            EndMatch::Found(text.parse().unwrap_or(1))
        }
        Some(_) => EndMatch::No,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&[u8]]) -> (Vec<u8>, Option<i32>) {
        let marks = Marks::new(42);
        let mut stream = CommandStream::new(&marks);
        let mut out = Vec::new();
        let mut code = None;
        for piece in pieces {
            code = stream.feed(piece, &mut |b| out.extend_from_slice(b));
        }
        (out, code)
    }

    #[test]
    fn output_between_the_marks_is_kept() {
        let (out, code) =
            run(&[b"junk\x01 949556c7-42-start\r\nhello\r\n\x01 949556c7-42-end 0\r\n"]);
        assert_eq!(out, b"hello\r\n");
        assert_eq!(code, Some(0));
    }

    #[test]
    fn the_echoed_instruction_line_is_dropped() {
        let line = Marks::new(42).instruction("/tmp/current-agent-cmd");
        let echoed = line.replace('\n', "\r\n");
        let (out, code) = run(&[
            echoed.as_bytes(),
            b"\x01 949556c7-42-start\r\nx\r\n\x01 949556c7-42-end 127\r\n",
        ]);
        assert_eq!(out, b"x\r\n");
        assert_eq!(code, Some(127));
    }

    #[test]
    fn marks_split_across_reads_are_found() {
        let all = b"\x01 949556c7-42-start\r\nab\x01 949556c7-42-end 3\r\n";
        let pieces: Vec<&[u8]> = all.chunks(1).collect();
        let (out, code) = run(&pieces);
        assert_eq!(out, b"ab");
        assert_eq!(code, Some(3));
    }

    #[test]
    fn a_stray_0x01_is_output() {
        let (out, code) = run(&[
            b"\x01 949556c7-42-start\r\na\x01b and a long tail that is not the mark at all\r\n",
            b"\x01 949556c7-42-end 0\n",
        ]);
        assert_eq!(
            out,
            b"a\x01b and a long tail that is not the mark at all\r\n".to_vec()
        );
        assert_eq!(code, Some(0));
    }

    #[test]
    fn without_a_line_break_the_code_is_not_final() {
        let (_, code) = run(&[b"\x01 949556c7-42-start\r\n\x01 949556c7-42-end 12"]);
        assert_eq!(code, None);
    }
}
