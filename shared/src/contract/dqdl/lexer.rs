//! DQDL's tokens: identifiers, strings (with their raw regex form), numbers and punctuation, each with
//! its byte offset so errors can name a line and column.

use super::DqdlError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// Rule types, keywords and bare column names (`[A-Za-z_][A-Za-z0-9_.]*`).
    Ident(String),
    /// A double-quoted string. `value` has `\"` and `\\` unescaped; `regex` has only `\"` unescaped, so a
    /// pattern reaches the regex engine as written (AWS passes `matches` patterns through unchanged).
    Str {
        value: String,
        regex: String,
    },
    /// Unsigned decimal literal: `12`, `0.95`.
    Num(String),
    /// `$name` (a DQDL constant reference).
    Var(String),
    LBracket,
    RBracket,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Bang,
    Plus,
    Minus,
    Star,
    Slash,
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// Byte range in the source.
    pub(super) start: usize,
    pub(super) end: usize,
}

pub(super) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

pub(super) fn syntax_at(src: &str, offset: usize, message: String) -> DqdlError {
    let (line, column) = line_col(src, offset);
    DqdlError::Syntax {
        line,
        column,
        message,
    }
}

pub(super) fn lex(src: &str) -> Result<Vec<Token>, DqdlError> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = |tok: Tok| Token {
            tok,
            start,
            end: start + 1,
        };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => i += 1,
            b'#' => i = skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'"' => {
                let (token, next) = lex_string(src, i)?;
                tokens.push(token);
                i = next;
            }
            b'0'..=b'9' => {
                i = skip_digits(bytes, i);
                if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i = skip_digits(bytes, i + 1);
                }
                tokens.push(Token {
                    tok: Tok::Num(src[start..i].to_string()),
                    start,
                    end: i,
                });
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                i = skip_ident(bytes, i);
                tokens.push(Token {
                    tok: Tok::Ident(src[start..i].to_string()),
                    start,
                    end: i,
                });
            }
            b'$' => {
                i = skip_ident(bytes, i + 1);
                tokens.push(Token {
                    tok: Tok::Var(src[start..i].to_string()),
                    start,
                    end: i,
                });
            }
            b'!' | b'>' | b'<' if bytes.get(i + 1) == Some(&b'=') => {
                let tok = match c {
                    b'!' => Tok::Ne,
                    b'>' => Tok::Ge,
                    _ => Tok::Le,
                };
                tokens.push(Token {
                    tok,
                    start,
                    end: i + 2,
                });
                i += 2;
            }
            _ => {
                let tok = match c {
                    b'[' => Tok::LBracket,
                    b']' => Tok::RBracket,
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b'{' => Tok::LBrace,
                    b'}' => Tok::RBrace,
                    b',' => Tok::Comma,
                    b':' => Tok::Colon,
                    b'=' => Tok::Eq,
                    b'>' => Tok::Gt,
                    b'<' => Tok::Lt,
                    b'!' => Tok::Bang,
                    b'+' => Tok::Plus,
                    b'-' => Tok::Minus,
                    b'*' => Tok::Star,
                    b'/' => Tok::Slash,
                    _ => {
                        let ch = src[i..].chars().next().unwrap_or('?');
                        return Err(syntax_at(src, i, format!("unexpected character {ch:?}")));
                    }
                };
                tokens.push(single(tok));
                i += 1;
            }
        }
    }
    tokens.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(tokens)
}

fn skip_line(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

fn skip_digits(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn skip_ident(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.') {
        i += 1;
    }
    i
}

/// Lex a string starting at the opening quote `src[open]`. Escapes: `\"` and `\\`; any other backslash
/// is kept as is (so `"\d+"` is the regex `\d+`).
fn lex_string(src: &str, open: usize) -> Result<(Token, usize), DqdlError> {
    let mut value = String::new();
    let mut regex = String::new();
    let mut chars = src[open + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => {
                let end = open + 1 + off + 1;
                return Ok((
                    Token {
                        tok: Tok::Str { value, regex },
                        start: open,
                        end,
                    },
                    end,
                ));
            }
            '\\' => match src[open + 1 + off + 1..].chars().next() {
                Some('"') => {
                    chars.next();
                    value.push('"');
                    regex.push('"');
                }
                Some('\\') => {
                    chars.next();
                    value.push('\\');
                    regex.push_str("\\\\");
                }
                _ => {
                    value.push('\\');
                    regex.push('\\');
                }
            },
            c => {
                value.push(c);
                regex.push(c);
            }
        }
    }
    Err(syntax_at(src, open, "unterminated string".into()))
}
