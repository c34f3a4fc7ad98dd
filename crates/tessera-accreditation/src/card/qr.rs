//! The badge's QR code as a matrix of modules, and its renderings (SVG, grey pixels).

use std::fmt::Write as _;

use qrcode::{Color, EcLevel, QrCode};

use super::CardError;

/// Light modules around the symbol that readers need to find it (ISO/IEC 18004: 4 modules).
pub const QUIET_ZONE: usize = 4;

/// A QR code: `width` × `width` modules, without the quiet zone.
#[derive(Clone, PartialEq, Eq)]
pub struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

impl std::fmt::Debug for QrMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QrMatrix({}×{})", self.width, self.width)
    }
}

/// The QR code of `text` (a badge's [`SignedBadge::to_text`](crate::SignedBadge::to_text)) at
/// error-correction level M, which survives 15 % of damaged modules (a scratched or bent card)
/// while keeping the symbol small. Base45 text is QR's alphanumeric alphabet, so the encoder's
/// segment optimisation stores it at 5.5 bits per character.
pub fn qr_matrix(text: &str) -> Result<QrMatrix, CardError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| match e {
        qrcode::types::QrError::DataTooLong => CardError::QrTooLong { len: text.len() },
        other => CardError::Qr(other.to_string()),
    })?;
    let width = code.width();
    let dark: Vec<bool> = code.into_colors().into_iter().map(|c| c == Color::Dark).collect();
    if dark.len() != width * width {
        return Err(CardError::Qr("the encoder returned a matrix of the wrong size".into()));
    }
    Ok(QrMatrix { width, dark })
}

impl QrMatrix {
    /// Modules per side, without the quiet zone (21 for version 1, +4 per version).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at column `x`, row `y` (from the top left) is dark. Outside the
    /// symbol is light, as the quiet zone around it must be.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// Side of the symbol with its quiet zone on both sides, in modules.
    pub fn width_with_quiet_zone(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }

    /// An SVG image of the code with its quiet zone, `module_px` pixels per module (at least
    /// 1), for a phone page: one `<path>` of horizontal runs of dark modules on a white square,
    /// with `crispEdges` so that browsers do not blur module edges when they scale it.
    pub fn to_svg(&self, module_px: u32) -> String {
        let side = self.width_with_quiet_zone();
        let px = u64::from(module_px.max(1)) * side as u64;
        let mut d = String::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < self.width && self.is_dark(x, y) {
                    x += 1;
                }
                let _ = write!(d, "M{} {}h{}v1h-{}z", start + QUIET_ZONE, y + QUIET_ZONE, x - start, x - start);
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{px}\" height=\"{px}\" viewBox=\"0 0 {side} {side}\" \
             shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
             <path fill=\"#000\" d=\"{d}\"/></svg>"
        )
    }

    /// Grey pixels (0 dark, 255 light), row by row from the top, with the quiet zone: a square
    /// of the returned side, `module_px` pixels per module (1 to 32).
    pub(crate) fn to_gray(&self, module_px: u32) -> (u32, Vec<u8>) {
        // Capped so that no caller can ask for gigabytes: the card uses 4.
        let scale = module_px.clamp(1, 32) as usize;
        let side = self.width_with_quiet_zone() * scale;
        let mut pixels = vec![255u8; side * side];
        for (py, row) in pixels.chunks_exact_mut(side).enumerate() {
            let y = py / scale;
            if y < QUIET_ZONE {
                continue;
            }
            for (px, pixel) in row.iter_mut().enumerate() {
                let x = px / scale;
                if x >= QUIET_ZONE && self.is_dark(x - QUIET_ZONE, y - QUIET_ZONE) {
                    *pixel = 0;
                }
            }
        }
        // The side is at most (177 + 8) × 32 pixels.
        (u32::try_from(side).unwrap_or(u32::MAX), pixels)
    }
}
