//! Splits what a host sends a ZPL printer into commands, byte by byte, in any chunking. Pure,
//! no I/O.
//!
//! ZPL II Programming Guide, "Format and Control Commands": a command is a prefix (`^` format,
//! `~` control), a two-character name, and parameters that run to the next prefix; control
//! commands act as soon as they arrive. Line ends between commands are ignored. Outside a
//! format, a line starting with `!` is a Set-Get-Do command ("! U1 getvar …"), ended by CR or
//! LF (EPL/SGD guide, "Command Structure").

/// Longest parameter run kept: a `^FD` takes 3,072 bytes, three times that escaped with `^FH`.
const MAX_PARAMS: usize = 16 * 1024;
/// Longest SGD line kept.
const MAX_SGD_LINE: usize = 512;

/// Commands whose parameters, if any, are never used by the simulator and whose end must not
/// wait for the next prefix: a host that sends `~HS` alone expects an answer now.
const NO_PARAMETERS: [&[u8; 2]; 7] = [b"XA", b"XZ", b"FS", b"HS", b"JA", b"PS", b"PP"];

/// One command from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// `^XY…`: part of a label format.
    Format {
        /// The name, upper-cased (ZPL names are not case-sensitive).
        name: [u8; 2],
        /// Everything up to the next prefix, line ends removed.
        params: Vec<u8>,
    },
    /// `~XY…`: acted on at once.
    Control {
        /// The name, upper-cased.
        name: [u8; 2],
    },
    /// A Set-Get-Do line, without its line end.
    Sgd(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    Name { prefix: u8, first: Option<u8> },
    Params { prefix: u8, name: [u8; 2] },
    Sgd,
}

/// The splitter. Bytes that belong to no command are counted as noise.
#[derive(Debug, Clone)]
pub(crate) struct CommandSplitter {
    state: State,
    params: Vec<u8>,
    in_format: bool,
    noise: u64,
}

impl CommandSplitter {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Between,
            params: Vec::new(),
            in_format: false,
            noise: 0,
        }
    }

    /// Bytes outside any command so far.
    pub(crate) fn noise(&self) -> u64 {
        self.noise
    }

    /// Feeds bytes; returns the commands they complete, in order.
    pub(crate) fn push_slice(&mut self, bytes: &[u8]) -> Vec<Token> {
        let mut tokens = Vec::new();
        for &byte in bytes {
            self.push(byte, &mut tokens);
        }
        tokens
    }

    fn push(&mut self, byte: u8, tokens: &mut Vec<Token>) {
        match self.state {
            State::Between => match byte {
                b'^' | b'~' => {
                    self.state = State::Name {
                        prefix: byte,
                        first: None,
                    }
                }
                b'!' if !self.in_format => {
                    self.params.clear();
                    self.state = State::Sgd;
                }
                b'\r' | b'\n' => {}
                _ => self.noise += 1,
            },
            State::Name { prefix, first } => {
                let upper = byte.to_ascii_uppercase();
                match first {
                    None => {
                        self.state = State::Name {
                            prefix,
                            first: Some(upper),
                        }
                    }
                    Some(first) => {
                        let name = [first, upper];
                        self.params.clear();
                        if NO_PARAMETERS.contains(&&name) {
                            self.state = State::Between;
                            self.emit(prefix, name, tokens);
                        } else {
                            self.state = State::Params { prefix, name };
                        }
                    }
                }
            }
            State::Params { prefix, name } => match byte {
                b'^' | b'~' => {
                    self.emit(prefix, name, tokens);
                    self.state = State::Name {
                        prefix: byte,
                        first: None,
                    };
                }
                b'\r' | b'\n' => {}
                _ if self.params.len() < MAX_PARAMS => self.params.push(byte),
                _ => self.noise += 1,
            },
            State::Sgd => match byte {
                b'\r' | b'\n' => {
                    tokens.push(Token::Sgd(std::mem::take(&mut self.params)));
                    self.state = State::Between;
                }
                _ if self.params.len() < MAX_SGD_LINE => self.params.push(byte),
                _ => self.noise += 1,
            },
        }
    }

    fn emit(&mut self, prefix: u8, name: [u8; 2], tokens: &mut Vec<Token>) {
        match (prefix, &name) {
            (b'^', b"XA") => self.in_format = true,
            (b'^', b"XZ") => self.in_format = false,
            _ => {}
        }
        let params = std::mem::take(&mut self.params);
        tokens.push(if prefix == b'~' {
            Token::Control { name }
        } else {
            Token::Format { name, params }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(name: &[u8; 2], params: &[u8]) -> Token {
        Token::Format {
            name: *name,
            params: params.to_vec(),
        }
    }

    #[test]
    fn a_label_splits_into_its_commands_in_any_chunking() {
        let wire = b"^XA^XFR:T.ZPL^FS^FN1^FH_^FDA_5EB^FS^XZ~HS! U1 getvar \"x\"\r\n";
        let expected = vec![
            format(b"XA", b""),
            format(b"XF", b"R:T.ZPL"),
            format(b"FS", b""),
            format(b"FN", b"1"),
            format(b"FH", b"_"),
            format(b"FD", b"A_5EB"),
            format(b"FS", b""),
            format(b"XZ", b""),
            Token::Control { name: *b"HS" },
            Token::Sgd(b" U1 getvar \"x\"".to_vec()),
        ];
        for chunk in 1..wire.len() {
            let mut splitter = CommandSplitter::new();
            let tokens: Vec<Token> = wire
                .chunks(chunk)
                .flat_map(|part| splitter.push_slice(part))
                .collect();
            assert_eq!(tokens, expected, "chunks of {chunk}");
        }
    }

    #[test]
    fn control_commands_act_at_once_and_names_ignore_case() {
        let mut splitter = CommandSplitter::new();
        assert_eq!(
            splitter.push_slice(b"~hs"),
            vec![Token::Control { name: *b"HS" }]
        );
        assert_eq!(
            splitter.push_slice(b"~pp~JA"),
            vec![
                Token::Control { name: *b"PP" },
                Token::Control { name: *b"JA" }
            ]
        );
    }

    #[test]
    fn noise_between_commands_is_counted() {
        let mut splitter = CommandSplitter::new();
        assert_eq!(
            splitter.push_slice(b"xx\r\n~HS"),
            vec![Token::Control { name: *b"HS" }]
        );
        assert_eq!(splitter.noise(), 2);
    }
}
