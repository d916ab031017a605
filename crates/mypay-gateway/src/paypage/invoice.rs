//! The e-invoice proof (電子發票證明聯) of a transaction, printable at 5.7 cm wide as the
//! MOF spec draws it: the period, the number, the Code-39 barcode and the two QR codes.
//! `/invoice/<ticket>.html`, the ticket answered as `proof_url` by `api/invoice`.

use super::*;
use crate::store::InvoiceRow;

#[derive(Template)]
#[template(path = "paypage/invoice_proof.html")]
struct ProofPage {
    title: String,
    period_text: String,
    number: String,
    number_text: String,
    state_text: String,
    issued_text: String,
    random: String,
    total: i64,
    seller_ban: String,
    buyer_ban: String,
    barcode: String,
    barcode_svg: String,
    left_svg: String,
    right_svg: String,
}

/// A QR code of the proof: error correction L, as the MOF spec asks.
fn qr_svg(text: &str) -> Result<String, String> {
    qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L)
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(240, 240)
                .build()
        })
        .map_err(|e| e.to_string())
}

/// The middle barcode, Code-39.
fn barcode_svg(text: &str) -> Result<String, String> {
    let code = barcoders::sym::code39::Code39::new(text).map_err(|e| e.to_string())?;
    barcoders::generators::svg::SVG::new(60)
        .xdim(2)
        .xmlns("http://www.w3.org/2000/svg".to_owned())
        .generate(code.encode())
        .map(|svg| svg.replacen("<svg ", "<svg preserveAspectRatio=\"none\" ", 1))
        .map_err(|e| e.to_string())
}

/// `115年11-12月` of a period `11512` (what is stored is read, never trusted to slice).
fn period_text(period: &str) -> String {
    let year = period.get(..3).unwrap_or("");
    let end: u32 = period.get(3..).and_then(|m| m.parse().ok()).unwrap_or(0);
    format!(
        "{}年{:02}-{:02}月",
        year.trim_start_matches('0'),
        end.saturating_sub(1),
        end
    )
}

pub(super) async fn proof(State(state): State<AppState>, Path(page): Path<String>) -> Response {
    let Some(uid) = page
        .strip_suffix(".html")
        .and_then(|t| state.tickets.open_invoice(t))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let invoice = match state.store.invoice(uid).await {
        Ok(Some(i)) if !i.fields.number.is_empty() => i,
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, uid, "loading an invoice for its proof");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match render(&invoice) {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "private, no-store"),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, uid, "rendering an invoice proof");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn render(invoice: &InvoiceRow) -> Result<String, String> {
    let f = &invoice.fields;
    let issued = f.issued.as_str();
    let part = |r: std::ops::Range<usize>| issued.get(r).unwrap_or("");
    let issued_text = if issued.len() == 14 && issued.bytes().all(|b| b.is_ascii_digit()) {
        format!(
            "{}-{}-{} {}:{}:{}",
            part(0..4),
            part(4..6),
            part(6..8),
            part(8..10),
            part(10..12),
            part(12..14)
        )
    } else {
        issued.to_owned()
    };
    let page = ProofPage {
        title: f.title.clone(),
        period_text: period_text(f.middle_barcode.get(..5).unwrap_or(&invoice.period)),
        number: format!("{}{}", f.wordtrack, f.number),
        number_text: format!("{}-{}", f.wordtrack, f.number),
        state_text: match invoice.state {
            4 => "已作廢 (voided)".to_owned(),
            6 => "已折讓 (allowance made)".to_owned(),
            _ => String::new(),
        },
        issued_text,
        random: f.rand_code.clone(),
        total: f.amount,
        seller_ban: f.seller_ban.clone(),
        buyer_ban: f.buyer_ban.clone(),
        barcode: f.middle_barcode.clone(),
        barcode_svg: barcode_svg(&f.middle_barcode)?,
        left_svg: qr_svg(&f.left_qrcode)?,
        right_svg: qr_svg(&f.right_qrcode)?,
    };
    page.render().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn periods_read_as_the_proof_prints_them() {
        assert_eq!(super::period_text("11512"), "115年11-12月");
        assert_eq!(super::period_text("11502"), "115年01-02月");
        // Whatever is stored, nothing panics.
        assert_eq!(super::period_text("1發"), "年00-00月");
    }
}
