//! The encoded module pattern and its rendering to grayscale pixels, PNG and SVG.

use std::fmt::Write as _;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, GrayImage, ImageEncoder};

use super::{SymbolError, Symbology};

/// Largest image side [`Symbol::to_gray_image`] and [`Symbol::to_png`] will produce, in pixels.
pub const MAX_IMAGE_SIDE_PX: u32 = 16_384;

const DARK: u8 = 0;
const LIGHT: u8 = 255;

/// How to turn modules into pixels.
///
/// One module (the narrowest bar or space of a 1-D symbol, one cell of a 2-D symbol) is
/// `module_px` × `module_px` pixels; the quiet zone is light and `quiet_zone_modules` modules wide
/// on every side of a 2-D symbol, left and right of a 1-D symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Pixels per module (the X dimension), at least 1.
    pub module_px: u32,
    /// Light margin around the symbol, in modules.
    pub quiet_zone_modules: u32,
    /// Height of the bars of a 1-D symbol in pixels (the whole image height); ignored for 2-D.
    pub bar_height_px: u32,
}

impl RenderOptions {
    /// The defaults for a symbology:
    /// - DataMatrix (GS1 or plain): 4 px per module, 2X quiet zone (ISO/IEC 16022:2006 and GS1
    ///   General Specifications §5.12.3 ask for at least 1X).
    /// - QR (GS1 or plain): 4 px per module, 4X quiet zone (ISO/IEC 18004:2015).
    /// - GS1-128: 2 px per module, 10X quiet zones left and right (ISO/IEC 15417:2007, GS1
    ///   General Specifications §5.4), bars 128 px (64X) high.
    pub fn for_symbology(symbology: Symbology) -> RenderOptions {
        match symbology {
            Symbology::Gs1DataMatrix | Symbology::DataMatrix => RenderOptions {
                module_px: 4,
                quiet_zone_modules: 2,
                bar_height_px: 0,
            },
            Symbology::Gs1Qr | Symbology::Qr => RenderOptions {
                module_px: 4,
                quiet_zone_modules: 4,
                bar_height_px: 0,
            },
            Symbology::Gs1_128 => RenderOptions {
                module_px: 2,
                quiet_zone_modules: 10,
                bar_height_px: 128,
            },
        }
    }

    /// The same options with another module size in pixels.
    pub fn with_module_px(self, module_px: u32) -> RenderOptions {
        RenderOptions { module_px, ..self }
    }

    /// The same options with another quiet zone in modules.
    pub fn with_quiet_zone_modules(self, quiet_zone_modules: u32) -> RenderOptions {
        RenderOptions {
            quiet_zone_modules,
            ..self
        }
    }

    /// The same options with another bar height in pixels (1-D symbols).
    pub fn with_bar_height_px(self, bar_height_px: u32) -> RenderOptions {
        RenderOptions {
            bar_height_px,
            ..self
        }
    }
}

/// An encoded symbol: a grid of dark and light modules.
///
/// A 2-D symbol has `height_modules()` rows; a 1-D symbol (GS1-128) is one row of bars and
/// spaces, each module one X wide, drawn `bar_height_px` high. Quiet zones are not part of the
/// grid; they are added when rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    symbology: Symbology,
    width: usize,
    height: usize,
    /// Row-major, `true` = dark.
    modules: Vec<bool>,
}

impl Symbol {
    pub(super) fn matrix(
        symbology: Symbology,
        width: usize,
        height: usize,
        modules: Vec<bool>,
    ) -> Result<Symbol, SymbolError> {
        if width == 0 || height == 0 || modules.len() != width * height {
            return Err(SymbolError::Encoder {
                symbology,
                detail: format!(
                    "encoder returned {} modules for a {width}x{height} grid",
                    modules.len()
                ),
            });
        }
        Ok(Symbol {
            symbology,
            width,
            height,
            modules,
        })
    }

    pub(super) fn linear(symbology: Symbology, modules: Vec<bool>) -> Result<Symbol, SymbolError> {
        let width = modules.len();
        Symbol::matrix(symbology, width, 1, modules)
    }

    /// The symbology this symbol was encoded in.
    pub fn symbology(&self) -> Symbology {
        self.symbology
    }

    /// Width in modules, quiet zones excluded.
    pub fn width_modules(&self) -> usize {
        self.width
    }

    /// Height in modules, quiet zones excluded; 1 for a 1-D symbol.
    pub fn height_modules(&self) -> usize {
        self.height
    }

    /// Whether the module in column `x`, row `y` is dark; `false` outside the grid.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width
            && self
                .modules
                .get(y * self.width + x)
                .copied()
                .unwrap_or(false)
    }

    fn row(&self, y: usize) -> &[bool] {
        self.modules
            .get(y * self.width..(y + 1) * self.width)
            .unwrap_or_default()
    }

    /// Image size in pixels, `(width, height)`, for the given options.
    ///
    /// # Errors
    ///
    /// [`SymbolError::InvalidRenderOptions`] if `module_px` is 0, a 1-D symbol has
    /// `bar_height_px` 0, or a side would exceed [`MAX_IMAGE_SIDE_PX`].
    pub fn image_size(&self, opts: &RenderOptions) -> Result<(u32, u32), SymbolError> {
        if opts.module_px == 0 {
            return Err(SymbolError::InvalidRenderOptions(
                "module_px must be at least 1".to_owned(),
            ));
        }
        let side = |modules: usize, what: &str| -> Result<u32, SymbolError> {
            u32::try_from(modules)
                .ok()
                .and_then(|m| m.checked_add(opts.quiet_zone_modules.checked_mul(2)?))
                .and_then(|m| m.checked_mul(opts.module_px))
                .filter(|&px| px <= MAX_IMAGE_SIDE_PX)
                .ok_or_else(|| {
                    SymbolError::InvalidRenderOptions(format!(
                        "image {what} for {modules} modules + 2x{} quiet-zone modules at {} px \
                         exceeds {MAX_IMAGE_SIDE_PX} px",
                        opts.quiet_zone_modules, opts.module_px
                    ))
                })
        };
        let width = side(self.width, "width")?;
        let height = if self.symbology.is_matrix() {
            side(self.height, "height")?
        } else if opts.bar_height_px == 0 || opts.bar_height_px > MAX_IMAGE_SIDE_PX {
            return Err(SymbolError::InvalidRenderOptions(format!(
                "bar_height_px must be 1..={MAX_IMAGE_SIDE_PX}, got {}",
                opts.bar_height_px
            )));
        } else {
            opts.bar_height_px
        };
        Ok((width, height))
    }

    /// Render to 8-bit grayscale pixels (0 dark, 255 light), quiet zones included — the input a
    /// decoder or a camera simulator wants.
    ///
    /// # Errors
    ///
    /// As [`Symbol::image_size`].
    pub fn to_gray_image(&self, opts: &RenderOptions) -> Result<GrayImage, SymbolError> {
        let (width, height) = self.image_size(opts)?;
        let pixels = self.render_luma(opts, width, height);
        GrayImage::from_raw(width, height, pixels).ok_or_else(|| {
            SymbolError::InvalidRenderOptions(format!("cannot build a {width}x{height} image"))
        })
    }

    fn render_luma(&self, opts: &RenderOptions, width: u32, height: u32) -> Vec<u8> {
        let (w, h) = (width as usize, height as usize);
        let px = opts.module_px as usize;
        let qz_px = opts.quiet_zone_modules as usize * px;
        let mut pixels = Vec::with_capacity(w * h);
        let mut line = vec![LIGHT; w];
        if self.symbology.is_matrix() {
            pixels.resize(qz_px * w, LIGHT);
            for y in 0..self.height {
                self.fill_line(&mut line, y, qz_px, px);
                for _ in 0..px {
                    pixels.extend_from_slice(&line);
                }
            }
            pixels.resize(w * h, LIGHT);
        } else {
            self.fill_line(&mut line, 0, qz_px, px);
            for _ in 0..h {
                pixels.extend_from_slice(&line);
            }
        }
        pixels
    }

    fn fill_line(&self, line: &mut [u8], y: usize, qz_px: usize, px: usize) {
        for (x, &dark) in self.row(y).iter().enumerate() {
            let start = qz_px + x * px;
            if let Some(cells) = line.get_mut(start..start + px) {
                cells.fill(if dark { DARK } else { LIGHT });
            }
        }
    }

    /// Render to an 8-bit grayscale PNG in memory, quiet zones included.
    ///
    /// # Errors
    ///
    /// As [`Symbol::image_size`], and [`SymbolError::PngEncode`] if the encoder fails.
    pub fn to_png(&self, opts: &RenderOptions) -> Result<Vec<u8>, SymbolError> {
        let (width, height) = self.image_size(opts)?;
        let pixels = self.render_luma(opts, width, height);
        let mut out = Vec::with_capacity(pixels.len() / 8 + 128);
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::NoFilter)
            .write_image(&pixels, width, height, ExtendedColorType::L8)
            .map_err(|source| SymbolError::PngEncode {
                width,
                height,
                source,
            })?;
        Ok(out)
    }

    /// Render to SVG: a light background and one path of dark modules, drawn with
    /// `shape-rendering="crispEdges"`. Coordinates are in pixels, so the SVG and the PNG made
    /// with the same options have the same size. A `module_px` of 0 gives an empty drawing.
    pub fn to_svg(&self, opts: &RenderOptions) -> String {
        let px = u64::from(opts.module_px);
        let qz = u64::from(opts.quiet_zone_modules) * px;
        let width = (self.width as u64) * px + 2 * qz;
        let (rows, row_px, height) = if self.symbology.is_matrix() {
            (self.height, px, (self.height as u64) * px + 2 * qz)
        } else {
            let h = u64::from(opts.bar_height_px);
            (1, h, h)
        };
        let top = if self.symbology.is_matrix() { qz } else { 0 };
        let mut svg = String::with_capacity(256 + self.modules.len() * 4);
        // Writing to a String cannot fail.
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{width}\" \
             height=\"{height}\" viewBox=\"0 0 {width} {height}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/><path fill=\"#000\" d=\""
        );
        for y in 0..rows {
            let row = self.row(y);
            let mut x = 0;
            while x < row.len() {
                if !row[x] {
                    x += 1;
                    continue;
                }
                let run = row[x..].iter().take_while(|&&d| d).count();
                let _ = write!(
                    svg,
                    "M{} {}h{}v{}h-{}z",
                    qz + x as u64 * px,
                    top + y as u64 * row_px,
                    run as u64 * px,
                    row_px,
                    run as u64 * px
                );
                x += run;
            }
        }
        svg.push_str("\"/></svg>\n");
        svg
    }
}
