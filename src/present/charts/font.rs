//! The one font every chart uses, compiled into the binary.
//!
//! plotters' `ttf` feature asks fontconfig for system fonts and fails on a
//! machine that has none (even for SVG, which measures text to lay out
//! labels); with no font feature at all a PNG panics when it draws text. So
//! chaoscal embeds DejaVu Sans (`assets/DejaVuSans.ttf`, Bitstream Vera
//! licence in `assets/DejaVuSans-LICENSE.txt`) and registers it with
//! plotters' `ab_glyph` backend under the family name the charts ask for.

use std::sync::OnceLock;

use ab_glyph::FontRef;
use plotters::style::FontStyle;

/// The family name every chart's text style uses; the SVGs name it too, so
/// a browser draws them with its own sans-serif face.
pub const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Registers the embedded font once per process; later calls return the
/// first outcome. Fails only if the embedded file is not a font (a broken
/// build, reported rather than panicking).
pub fn ensure_registered() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS)
            .map_err(|_| "the embedded font assets/DejaVuSans.ttf cannot be read as a font".to_string())
    })
    .clone()
}

/// The embedded font for drawing PNG text directly (see `raster`).
pub fn face() -> Result<FontRef<'static>, String> {
    FontRef::try_from_slice(DEJAVU_SANS)
        .map_err(|_| "the embedded font assets/DejaVuSans.ttf cannot be read as a font".to_string())
}
