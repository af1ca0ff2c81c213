//! A hand scanner and the packer holding it: each read is sent as the scanner sends it (the
//! ISO/IEC 15424 symbology identifier, the data, CR LF) and the station's one-line reply read
//! back (docs/aggregation.md "Manual mode").
//!
//! - [`HandScanner`]: scans a unit's GS1 DataMatrix (`]d2`, element string with FNC1 as GS), a
//!   package's GS1-128 label (`]C1` + `00` + SSCC), a command barcode (`]C0` + text), or any
//!   bytes (faults: garbage, a line without identifier);
//! - [`Packer`]: the routine of a packing table — `NEW`, the case's units, `CLOSE` — for a
//!   twin run or a test to drive.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracemark_codes::gs1::{self, Gs1Symbology};
use tracemark_drivers::scanner::LineDecoder;

/// Why a scan got no reply.
#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    /// The link failed.
    #[error("scanner link: {0}")]
    Io(#[from] std::io::Error),
    /// The station closed the link before it replied.
    #[error("the station closed the link")]
    Closed,
    /// A unit code the scanner cannot encode (not GS1).
    #[error("cannot encode {code:?} as GS1: {reason}")]
    NotGs1 {
        /// The code.
        code: String,
        /// Why.
        reason: String,
    },
    /// The station's reply was not what the routine expects.
    #[error("unexpected reply to {sent}: {reply}")]
    Unexpected {
        /// What was scanned.
        sent: String,
        /// The reply.
        reply: String,
    },
}

/// A hand scanner on a link to the station.
#[derive(Debug)]
pub struct HandScanner<S> {
    stream: S,
    decoder: LineDecoder,
    replies: std::collections::VecDeque<String>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> HandScanner<S> {
    /// A scanner on `stream` (a TCP connection, a pty, a duplex).
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            decoder: LineDecoder::new(),
            replies: std::collections::VecDeque::new(),
        }
    }

    /// Sends `bytes` as they are (a line with its terminator, or garbage) and returns the next
    /// reply line.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<String, ScannerError> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        self.reply().await
    }

    /// The next reply line.
    pub async fn reply(&mut self) -> Result<String, ScannerError> {
        let mut buf = [0u8; 256];
        loop {
            if let Some(reply) = self.replies.pop_front() {
                return Ok(reply);
            }
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                return Err(ScannerError::Closed);
            }
            for line in self.decoder.push_slice(&buf[..n]).into_iter().flatten() {
                self.replies
                    .push_back(String::from_utf8_lossy(&line).into_owned());
            }
        }
    }

    /// Scans `text` (identifier and data) and returns the reply.
    pub async fn scan(&mut self, text: &str) -> Result<String, ScannerError> {
        let mut line = text.as_bytes().to_vec();
        line.extend_from_slice(b"\r\n");
        self.send_raw(&line).await
    }

    /// Scans a unit's GS1 DataMatrix carrying `code` (any GS1 form, e.g. the HRI the store
    /// keeps): `]d2` + element string.
    pub async fn scan_unit(&mut self, code: &str) -> Result<String, ScannerError> {
        let data = unit_symbol(code)?;
        self.scan(&data).await
    }

    /// Scans a package's GS1-128 SSCC label: `]C1` `00` + the 18 digits.
    pub async fn scan_label(&mut self, sscc: &str) -> Result<String, ScannerError> {
        self.scan(&format!("]C100{sscc}")).await
    }

    /// Scans a command barcode (plain Code 128): `]C0` + its text.
    pub async fn command(&mut self, text: &str) -> Result<String, ScannerError> {
        self.scan(&format!("]C0{text}")).await
    }
}

/// What a scanner transmits for the GS1 DataMatrix of `code`.
pub fn unit_symbol(code: &str) -> Result<String, ScannerError> {
    gs1::parse(code)
        .map(|scan| scan.code.to_scanner_data(Gs1Symbology::DataMatrix))
        .map_err(|e| ScannerError::NotGs1 {
            code: code.to_owned(),
            reason: e.to_string(),
        })
}

/// One case the packer filled, as the station answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedCase {
    /// The package's SSCC (from the station's `OK OPEN` reply).
    pub sscc: String,
    /// The children scanned and answered `OK`, in order.
    pub children: Vec<String>,
    /// Children answered `BAD`, with the reply.
    pub refused: Vec<(String, String)>,
    /// The reply to `CLOSE`.
    pub closed: String,
}

/// A packer at a hand-scanner station: opens a new package, scans its children, closes it.
#[derive(Debug)]
pub struct Packer<S> {
    /// The scanner in the packer's hand.
    pub scanner: HandScanner<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Packer<S> {
    /// A packer with `scanner`.
    pub fn new(scanner: HandScanner<S>) -> Self {
        Self { scanner }
    }

    /// Scans `NEW` and returns the SSCC the station opened.
    pub async fn open_new(&mut self) -> Result<String, ScannerError> {
        let reply = self.scanner.command("NEW").await?;
        opened_sscc(&reply).ok_or(ScannerError::Unexpected {
            sent: "NEW".into(),
            reply,
        })
    }

    /// Fills one package: `NEW`, each child (unit codes at a carton station with
    /// `units = true`, carton SSCCs at a palletiser), `CLOSE`.
    pub async fn fill(
        &mut self,
        children: &[String],
        units: bool,
    ) -> Result<PackedCase, ScannerError> {
        let sscc = self.open_new().await?;
        let mut case = PackedCase {
            sscc,
            children: Vec::new(),
            refused: Vec::new(),
            closed: String::new(),
        };
        for child in children {
            let reply = if units {
                self.scanner.scan_unit(child).await?
            } else {
                self.scanner.scan_label(child).await?
            };
            if reply.starts_with("OK ") {
                case.children.push(child.clone());
            } else {
                case.refused.push((child.clone(), reply));
            }
        }
        case.closed = self.scanner.command("CLOSE").await?;
        Ok(case)
    }

    /// Packs `children` into packages of `per_package`, in order (the last one may be short).
    pub async fn fill_all(
        &mut self,
        children: &[String],
        per_package: usize,
        units: bool,
    ) -> Result<Vec<PackedCase>, ScannerError> {
        let mut cases = Vec::new();
        for chunk in children.chunks(per_package.max(1)) {
            cases.push(self.fill(chunk, units).await?);
        }
        Ok(cases)
    }
}

/// The SSCC of an `OK OPEN <sscc> n/c` reply.
pub fn opened_sscc(reply: &str) -> Option<String> {
    let mut words = reply.split(' ');
    match (words.next(), words.next(), words.next()) {
        (Some("OK"), Some("OPEN"), Some(sscc)) => Some(sscc.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_is_scanned_as_its_gs1_datamatrix() {
        assert_eq!(
            unit_symbol("(01)09506000134352(21)A1").expect("gs1"),
            "]d2010950600013435221A1"
        );
        assert!(unit_symbol("HELLO").is_err());
        assert_eq!(
            opened_sscc("OK OPEN 095060000000000015 0/12").as_deref(),
            Some("095060000000000015")
        );
        assert_eq!(opened_sscc("BAD NEW no prefix"), None);
    }

    #[tokio::test]
    async fn the_scanner_sends_lines_and_reads_one_reply_per_scan() {
        let (ours, mut station) = tokio::io::duplex(1024);
        let mut scanner = HandScanner::new(ours);
        let station_side = tokio::spawn(async move {
            let mut buf = vec![0u8; 64];
            let n = station.read(&mut buf).await.expect("read");
            station
                .write_all(b"OK CANCEL x 0 scans dropped\r\n")
                .await
                .expect("write");
            buf.truncate(n);
            (buf, station)
        });
        let reply = scanner.command("CANCEL").await.expect("reply");
        assert_eq!(reply, "OK CANCEL x 0 scans dropped");
        let (sent, _station) = station_side.await.expect("station");
        assert_eq!(sent, b"]C0CANCEL\r\n");
    }
}
