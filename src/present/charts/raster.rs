//! Text for the PNGs, placed the way a browser places the SVGs' text.
//!
//! plotters' `ab_glyph` rasterizer (0.3.7) drops each glyph's left side
//! bearing, so PNG labels come out with uneven letter spacing
//! ("replicati ons"), and it sets the baseline differently from the
//! `dy`/`text-anchor` its SVG backend writes. [`Crisp`] wraps a bitmap
//! backend, passes every primitive through unchanged, and draws text
//! itself with the embedded font: glyphs positioned by ab_glyph's outline
//! bounds, font size, anchors and rotation as in the SVG, so the PNG and
//! the SVG of a chart match.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters::prelude::DrawingBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};

/// A bitmap backend whose text is drawn by [`Crisp::draw_text`].
pub(crate) struct Crisp<DB> {
    inner: DB,
    font: FontRef<'static>,
}

impl<DB: DrawingBackend> Crisp<DB> {
    pub fn new(inner: DB, font: FontRef<'static>) -> Self {
        Crisp { inner, font }
    }
}

impl<DB: DrawingBackend> DrawingBackend for Crisp<DB> {
    type ErrorType = DB::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        // The same estimate as the SVG backend's, so both lay the chart out alike.
        self.inner.estimate_text_size(text, style)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        // plotters' SVG backend writes font-size = size / 1.24 (px per em).
        let em_px = (style.size() / 1.24) as f32;
        let units_per_em = self.font.units_per_em().unwrap_or(2048.0);
        let scale = PxScale::from(em_px * self.font.height_unscaled() / units_per_em);
        let font = self.font.as_scaled(scale);
        let mut caret = 0.0f32;
        let mut prev = None;
        let mut glyphs = Vec::with_capacity(text.len());
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                caret += font.kern(p, id);
            }
            glyphs.push(id.with_scale_and_position(scale, point(caret, 0.0)));
            caret += font.h_advance(id);
            prev = Some(id);
        }
        // Anchors as the SVG backend writes them: text-anchor start/middle/end,
        // dy 0.76em (top), 0.5ex (centre), -0.5ex (bottom).
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -caret / 2.0,
            HPos::Right => -caret,
        };
        // Half the x-height; bounds' y direction differs between font formats, so take the magnitude.
        let x_height = self
            .font
            .outline(self.font.glyph_id('x'))
            .map(|o| o.bounds.max.y.abs().max(o.bounds.min.y.abs()))
            .unwrap_or(0.55 * units_per_em);
        let half_ex = 0.5 * x_height / units_per_em * em_px;
        let baseline = match style.anchor().v_pos {
            VPos::Top => 0.76 * em_px,
            VPos::Center => half_ex,
            VPos::Bottom => -half_ex,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        for g in glyphs {
            let Some(outline) = font.outline_glyph(g) else { continue };
            let bounds = outline.px_bounds();
            let mut pixels = Vec::new();
            outline.draw(|x, y, coverage| {
                if coverage > 0.0 {
                    let lx = (dx + bounds.min.x).round() as i32 + x as i32;
                    let ly = (baseline + bounds.min.y).round() as i32 + y as i32;
                    pixels.push((lx, ly, coverage));
                }
            });
            for (lx, ly, coverage) in pixels {
                let (tx, ty) = trans.transform(lx, ly);
                let (x, y) = (pos.0 + tx, pos.1 + ty);
                if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                    let c = BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    };
                    self.inner.draw_pixel((x, y), c)?;
                }
            }
        }
        Ok(())
    }
}
