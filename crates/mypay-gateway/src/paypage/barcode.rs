//! Barcodes of pay-later codes, drawn as SVG for the PayPage.

use super::*;

/// Barcode images: the width of the narrowest bar and the height, in pixels.
const BARCODE_MODULE_PX: u32 = 2;
const BARCODE_HEIGHT_PX: u32 = 60;

/// `GET /payment/<uid>/barcode/<n>`: barcode `n` (1–3) of a pay-later order as a
/// Code-39 SVG image.
pub(super) async fn barcode(
    State(state): State<AppState>,
    Path((ticket, n)): Path<(String, String)>,
) -> Response {
    let Some(uid) = state.tickets.open(&ticket) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let n: usize = match n.trim_end_matches(".svg").parse() {
        Ok(n) if (1..=3).contains(&n) => n,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let order = match state.store.order(uid).await {
        Ok(Some(o)) => o,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, uid, "loading an order for its barcode");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Some(text) = order
        .result_content
        .as_deref()
        .map(Issued::barcodes)
        .and_then(|codes| codes.into_iter().nth(n - 1))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let svg = barcoders::sym::code39::Code39::new(&text)
        .map_err(|e| e.to_string())
        .and_then(|code| {
            let modules = code.encode();
            let width = modules.len() * BARCODE_MODULE_PX as usize;
            barcoders::generators::svg::SVG::new(BARCODE_HEIGHT_PX)
                .xdim(BARCODE_MODULE_PX)
                .xmlns("http://www.w3.org/2000/svg".to_owned())
                .generate(modules)
                // An <img> needs an intrinsic size; the generator gives only a viewBox.
                .map(|svg| {
                    svg.replacen(
                        "<svg ",
                        &format!("<svg width=\"{width}\" height=\"{BARCODE_HEIGHT_PX}\" "),
                        1,
                    )
                })
                .map_err(|e| e.to_string())
        });
    match svg {
        Ok(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            svg,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, uid, "rendering a barcode");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
