//! A camera that verifies prints, simulated through the real pixels: for each printed unit it
//! renders the code as a GS1 DataMatrix (`tracemark_codes::symbol`), damages the image as a
//! line does (noise, smear, missing modules, a blank, a wrong code, a double print), decodes it
//! with `rxing`, grades it from the damage, and produces the reader's JSON result (SPEC §5).
//!
//! The result is what the decoder really read: a damage that stays readable reads, one that does
//! not is a no-read — the simulator never decides the outcome by fiat. Ground truth (what was
//! printed, what damage was applied) is returned with each result for the line twin.

use tracemark_codes::gs1;
use tracemark_codes::symbol::{RenderOptions, Symbology, decode_image, encode};

/// What happened to a print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// A clean print.
    None,
    /// Speckle: small dots flipped on about 1 % of the symbol (still readable, lower grade).
    Noise,
    /// A smear across part of the symbol (low grade, sometimes unreadable).
    Smear,
    /// A block of modules missing (low grade or unreadable).
    MissingModules,
    /// Nothing printed (a no-read).
    Blank,
    /// Another code printed than the one sent (a mismatch or unknown).
    WrongCode,
    /// The unit printed twice, offset (usually unreadable).
    DoublePrint,
}

/// How often each damage happens, per unit (0.0–1.0 each; the rest are clean).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DamageRates {
    /// Speckle.
    pub noise: f64,
    /// Smear.
    pub smear: f64,
    /// Missing modules.
    pub missing_modules: f64,
    /// Blank.
    pub blank: f64,
    /// Wrong code.
    pub wrong_code: f64,
    /// Double print.
    pub double_print: f64,
}

impl DamageRates {
    /// Every print clean.
    pub const NONE: DamageRates = DamageRates {
        noise: 0.0,
        smear: 0.0,
        missing_modules: 0.0,
        blank: 0.0,
        wrong_code: 0.0,
        double_print: 0.0,
    };

    /// About 3 % of units damaged, as on a line that runs well.
    pub const DEFAULT: DamageRates = DamageRates {
        noise: 0.01,
        smear: 0.005,
        missing_modules: 0.005,
        blank: 0.005,
        wrong_code: 0.0025,
        double_print: 0.0025,
    };

    /// About 15 % of units damaged: a line in trouble.
    pub const HEAVY: DamageRates = DamageRates {
        noise: 0.05,
        smear: 0.03,
        missing_modules: 0.03,
        blank: 0.02,
        wrong_code: 0.01,
        double_print: 0.01,
    };

    fn pick(&self, draw: f64) -> Damage {
        let table = [
            (self.noise, Damage::Noise),
            (self.smear, Damage::Smear),
            (self.missing_modules, Damage::MissingModules),
            (self.blank, Damage::Blank),
            (self.wrong_code, Damage::WrongCode),
            (self.double_print, Damage::DoublePrint),
        ];
        let mut edge = 0.0;
        for (rate, damage) in table {
            edge += rate;
            if draw < edge {
                return damage;
            }
        }
        Damage::None
    }
}

/// One simulated read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisionResult {
    /// The damaged image the decoder saw, kept only for a bad read when the camera sends
    /// images ([`VisionSim::with_images`]): a no-read, a wrong code, or a grade below `B`.
    /// Raw pixels, encoded as PNG by [`VisionResult::png`] after the result is published, so
    /// the result is never held up by the encoding.
    pub image: Option<image::GrayImage>,
    /// The reader's sequence number.
    pub seq: u64,
    /// What the decoder read (scanner message with `]d2`), `None` for a no-read.
    pub data: Option<String>,
    /// The grade derived from the damage, `A`–`D` or `F`; `None` for a no-read.
    pub grade: Option<char>,
    /// Ground truth: the damage applied.
    pub damage: Damage,
    /// Ground truth: the element string actually printed (`None` when blank).
    pub printed: Option<String>,
}

impl VisionResult {
    /// The kept image as PNG (grey, 8 bits), `None` without one.
    pub fn png(&self) -> Option<Vec<u8>> {
        let image = self.image.as_ref()?;
        png_of(image)
    }
}

/// Encodes a grey image as PNG (fast compression: a camera does not spend time on it).
pub fn png_of(image: &image::GrayImage) -> Option<Vec<u8>> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut out = Vec::with_capacity(image.len() / 4 + 128);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::NoFilter)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .ok()?;
    Some(out)
}

/// The topic a camera of line `line` publishes the image of its read `seq` on:
/// `tracemark/<line>/vision/<reader>/image/<seq>` (docs/verification.md "Reject images").
pub fn image_topic(line: &str, reader: &str, seq: u64) -> String {
    format!("tracemark/{line}/vision/{reader}/image/{seq}")
}

/// Why a unit could not be simulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisionError {
    /// The code is not GS1 data the symbol can carry.
    #[error("cannot render {code:?}: {reason}")]
    Render {
        /// The code.
        code: String,
        /// Why.
        reason: String,
    },
}

/// A simulated camera.
#[derive(Debug, Clone)]
pub struct VisionSim {
    reader: String,
    rates: DamageRates,
    seq: u64,
    rng: u64,
    images: bool,
}

impl VisionSim {
    /// A reader named `reader` with these damage rates; `seed` makes runs repeatable.
    pub fn new(reader: &str, rates: DamageRates, seed: u64) -> Self {
        VisionSim {
            reader: reader.to_owned(),
            rates,
            seq: 0,
            rng: seed | 1,
            images: false,
        }
    }

    /// Keeps the image of each bad read (see [`VisionResult::image`]), as a camera with an
    /// image output channel does for its failed reads. Off by default: only bad reads are
    /// kept, so a line at 6,000 units/min encodes a few images a second, not a hundred.
    pub fn with_images(mut self, images: bool) -> Self {
        self.images = images;
        self
    }

    /// xorshift64*: a repeatable stream of draws in [0, 1).
    fn draw(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Inspects a unit printed with `code` (any GS1 form), damaged as the rates draw.
    pub fn inspect(&mut self, code: &str) -> Result<VisionResult, VisionError> {
        let draw = self.draw();
        let damage = self.rates.pick(draw);
        self.inspect_with(code, damage)
    }

    /// Inspects a unit printed with `code` and the given damage (for tests and scripted runs).
    /// `WrongCode` prints `code` with the last serial character changed.
    pub fn inspect_with(
        &mut self,
        code: &str,
        damage: Damage,
    ) -> Result<VisionResult, VisionError> {
        self.seq += 1;
        let render_error = |reason: String| VisionError::Render {
            code: code.to_owned(),
            reason,
        };
        let parsed = gs1::parse(code).map_err(|e| render_error(e.to_string()))?;
        let mut element = parsed.code.to_element_string();
        if damage == Damage::WrongCode {
            element = wrong(&element);
        }
        let symbol = encode(Symbology::Gs1DataMatrix, element.as_bytes())
            .map_err(|e| render_error(e.to_string()))?;
        let options = RenderOptions::for_symbology(Symbology::Gs1DataMatrix).with_module_px(6);
        let mut image = symbol
            .to_gray_image(&options)
            .map_err(|e| render_error(e.to_string()))?;
        let (width, height) = (image.width() as usize, image.height() as usize);
        let module = 6usize;
        let quiet = (width - symbol.width_modules() * module) / 2;
        let pixels: &mut [u8] = &mut image;
        match damage {
            Damage::None | Damage::WrongCode => {}
            Damage::Noise => {
                // Speckle: 2×2-pixel dots flipped on about 1 % of the symbol (not the quiet
                // zone, which a reader's finder needs clean).
                let inner = quiet..width.saturating_sub(quiet + 1);
                for y in inner.clone().step_by(2).filter(|y| *y + 1 < height) {
                    for x in inner.clone().step_by(2) {
                        if self.draw() < 0.01 {
                            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                                let i = (y + dy) * width + x + dx;
                                pixels[i] = 255 - pixels[i];
                            }
                        }
                    }
                }
            }
            Damage::Smear => {
                // Ink dragged sideways over a band of rows: dark spreads to the right.
                let rows = quiet + module * 2..quiet + module * 5;
                for y in rows.filter(|y| *y < height) {
                    for x in (1..width).rev() {
                        let left = pixels[y * width + x - 1];
                        if left < 128 && x % 3 != 0 {
                            pixels[y * width + x] = left;
                        }
                    }
                }
            }
            Damage::MissingModules => {
                // A square of modules not printed, a third of the symbol in from the corner.
                let side = symbol.width_modules() * module * 2 / 5;
                let start = quiet + symbol.width_modules() * module / 3;
                for y in start..(start + side).min(height) {
                    for x in start..(start + side).min(width) {
                        pixels[y * width + x] = 255;
                    }
                }
            }
            Damage::Blank => pixels.fill(255),
            Damage::DoublePrint => {
                // A second impression half a symbol to the right and down.
                let shift = symbol.width_modules() * module / 2;
                let copy = pixels.to_vec();
                for y in shift..height {
                    for x in shift..width {
                        let from = copy[(y - shift) * width + (x - shift)];
                        let at = &mut pixels[y * width + x];
                        *at = (*at).min(from);
                    }
                }
            }
        }
        let decoded = decode_image(&image).ok();
        let data = decoded.map(|d| String::from_utf8_lossy(&d.scanner_message()).into_owned());
        let grade = data.as_ref().map(|_| match damage {
            Damage::None | Damage::WrongCode => 'A',
            Damage::Noise => 'B',
            Damage::Smear | Damage::DoublePrint => 'C',
            Damage::MissingModules => 'D',
            Damage::Blank => 'F',
        });
        // What a line rejects whatever the product's minimum grade: nothing read, another
        // code than printed, or a grade below B.
        let bad = data.is_none() || damage == Damage::WrongCode || grade.is_some_and(|g| g > 'B');
        Ok(VisionResult {
            seq: self.seq,
            data,
            grade,
            damage,
            printed: (damage != Damage::Blank).then_some(element),
            image: (self.images && bad).then_some(image),
        })
    }

    /// Inspects a unit that carries no print at all (the marker had nothing to print): a
    /// no-read, as a real reader reports it.
    pub fn nothing_printed(&mut self) -> VisionResult {
        self.seq += 1;
        VisionResult {
            seq: self.seq,
            data: None,
            grade: None,
            damage: Damage::Blank,
            printed: None,
            // A real camera sends the empty field of view it saw; the simulator the same.
            image: self
                .images
                .then(|| image::GrayImage::from_pixel(120, 120, image::Luma([255]))),
        }
    }

    /// The reader's name.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// The SPEC §5 JSON payload of a result, read at encoder count `encoder`.
    pub fn payload(&self, result: &VisionResult, encoder: u64) -> Vec<u8> {
        self.payload_as(&self.reader, result, encoder)
    }

    /// The payload of a result as reader `reader` reports it (a second camera that sees the
    /// same print).
    pub fn payload_as(&self, reader: &str, result: &VisionResult, encoder: u64) -> Vec<u8> {
        let json = |v: Option<String>| match v {
            Some(s) => format!(
                "\"{}\"",
                s.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\u{1d}', "\\u001d")
            ),
            None => "null".to_owned(),
        };
        format!(
            r#"{{"reader":"{}","seq":{},"symbology":"datamatrix","data":{},"grade":{},"encoder":{encoder}}}"#,
            reader,
            result.seq,
            json(result.data.clone()),
            json(result.grade.map(String::from)),
        )
        .into_bytes()
    }
}

/// Serves a TCP feed of printed units: each line `ENCODER CODE` (the encoder count at the read
/// and the code printed, any GS1 form) is inspected and its result published with QoS 1 on
/// `topic`. A malformed line is answered `error: …` on the same connection and skipped.
pub async fn serve_feed(
    listener: tokio::net::TcpListener,
    sim: std::sync::Arc<tokio::sync::Mutex<VisionSim>>,
    client: rumqttc::AsyncClient,
    topic: String,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    loop {
        let (stream, _) = listener.accept().await?;
        let (sim, client, topic) = (sim.clone(), client.clone(), topic.clone());
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let reply = match line.trim().split_once(' ') {
                    Some((encoder, code)) => match encoder.parse::<u64>() {
                        Ok(encoder) => {
                            let mut camera = sim.lock().await;
                            match camera.inspect(code.trim()) {
                                Ok(result) => {
                                    let payload = camera.payload(&result, encoder);
                                    drop(camera);
                                    match client
                                        .publish(&topic, rumqttc::QoS::AtLeastOnce, false, payload)
                                        .await
                                    {
                                        Ok(()) => format!("ok {}", result.seq),
                                        Err(e) => format!("error: cannot publish: {e}"),
                                    }
                                }
                                Err(e) => format!("error: {e}"),
                            }
                        }
                        Err(_) => format!("error: {encoder:?} is not an encoder count"),
                    },
                    None => "error: expected `ENCODER CODE`".to_owned(),
                };
                if write
                    .write_all(format!("{reply}\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
}

/// The element string with its last character replaced by another digit or letter.
fn wrong(element: &str) -> String {
    let mut chars: Vec<char> = element.chars().collect();
    if let Some(last) = chars.last_mut() {
        *last = match *last {
            '9' => '8',
            c if c.is_ascii_digit() => char::from(c as u8 + 1),
            'Z' => 'Y',
            _ => '2',
        };
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "(01)09506000134352(21)000123456789";

    #[test]
    fn each_damage_reads_as_a_real_reader_would() {
        let mut sim = VisionSim::new("cam1", DamageRates::NONE, 7);
        let clean = sim.inspect_with(CODE, Damage::None).expect("clean");
        assert_eq!(
            clean.data.as_deref(),
            Some("]d2010950600013435221000123456789")
        );
        assert_eq!(clean.grade, Some('A'));
        let blank = sim.inspect_with(CODE, Damage::Blank).expect("blank");
        assert_eq!((blank.data, blank.grade), (None, None));
        let wrong = sim.inspect_with(CODE, Damage::WrongCode).expect("wrong");
        assert_eq!(
            wrong.data.as_deref(),
            Some("]d2010950600013435221000123456788")
        );
        let noisy = sim.inspect_with(CODE, Damage::Noise).expect("noise");
        assert_eq!(
            noisy.data.as_deref(),
            clean.data.as_deref(),
            "1 % speckle stays readable"
        );
        assert_eq!(noisy.grade, Some('B'));
        for damage in [Damage::Smear, Damage::MissingModules, Damage::DoublePrint] {
            let result = sim.inspect_with(CODE, damage).expect("damaged");
            // Readable or not, a damaged print never reads as another code.
            assert!(
                result.data.is_none() || result.data == clean.data,
                "{damage:?}: {result:?}"
            );
            // Letters after B: a worse grade than a clean or speckled print.
            assert!(
                result.grade.is_none() || result.grade > Some('B'),
                "{result:?}"
            );
        }
        assert_eq!(sim.inspect_with(CODE, Damage::None).expect("seq").seq, 8);
    }

    #[test]
    fn rates_draw_repeatably_and_payloads_follow_the_spec() {
        let heavy = DamageRates {
            blank: 0.5,
            ..DamageRates::NONE
        };
        let mut a = VisionSim::new("cam1", heavy, 42);
        let mut b = VisionSim::new("cam1", heavy, 42);
        let draws_a: Vec<Damage> = (0..20)
            .map(|_| a.inspect(CODE).expect("a").damage)
            .collect();
        let draws_b: Vec<Damage> = (0..20)
            .map(|_| b.inspect(CODE).expect("b").damage)
            .collect();
        assert_eq!(draws_a, draws_b);
        assert!(draws_a.contains(&Damage::Blank) && draws_a.contains(&Damage::None));
        let result = a.inspect_with(CODE, Damage::None).expect("clean");
        let payload = String::from_utf8(a.payload(&result, 99)).expect("utf-8");
        assert_eq!(
            payload,
            r#"{"reader":"cam1","seq":21,"symbology":"datamatrix","data":"]d2010950600013435221000123456789","grade":"A","encoder":99}"#
        );
        assert!(a.inspect("not a code").is_err());
    }
}
