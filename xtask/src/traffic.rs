//! Mixed traffic, as a merchant and its consumers make it: orders paid on the PayPage,
//! authorised and captured, pay-later codes paid, recurring series, e-wallet charges,
//! refunds and refund-cancels racing, the merchant's test clock moved. Each operation is
//! drawn from the seed; what the gateway answered is written in the [`Model`], which the
//! ledger checker holds the database to.

use mypay_client::protocol::Command;
use mypay_client::protocol::messages::Item;
use mypay_client::{Client, ClientError};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A card without 3-D Secure that the sandbox approves.
const CARD: &str = "4111111111111111";
/// The sandbox's declined card.
const DECLINED: &str = "4000000000000002";

/// How far the merchant's clock is moved by month-long steps (its key lives a year).
const KEY_YEAR_KEPT: i64 = 320 * 86_400;

/// One thing a merchant or a consumer does.
#[derive(Clone, Debug)]
pub enum Op {
    /// A card order paid on the PayPage (GET the page, POST the card form with its CSRF
    /// token); `decline` pays with the declined card.
    PayPage {
        order_id: String,
        cost: i64,
        decline: bool,
    },
    /// A card order only authorised (`245`), then captured by two requests at once.
    Capture { order_id: String, cost: i64 },
    /// A convenience-store code issued, then paid (twice at once when `twice`).
    PayLater {
        order_id: String,
        cost: i64,
        twice: bool,
    },
    /// A monthly series of three, its first period charged now.
    Recurring { order_id: String, cost: i64 },
    /// An order charged in the background to the bound e-wallet card.
    Wallet { order_id: String, cost: i64 },
    /// Two refunds and a refund-cancel at once on a paid order (picked by `pick`).
    RefundRace {
        pick: usize,
        first: i64,
        second: i64,
    },
    /// The merchant's clock moved on.
    Advance { seconds: i64 },
}

impl Op {
    /// Draw one operation; `n` makes order ids unique within the run.
    pub fn draw(rng: &mut fastrand::Rng, n: u64) -> Op {
        let order_id = format!("CR-{n}");
        match rng.u8(..100) {
            0..=29 => Op::PayPage {
                order_id,
                cost: rng.i64(100..5_000),
                decline: rng.u8(..10) == 0,
            },
            30..=41 => Op::Capture {
                order_id,
                cost: rng.i64(100..5_000),
            },
            42..=53 => Op::PayLater {
                order_id,
                cost: rng.i64(100..2_000),
                twice: rng.bool(),
            },
            54..=61 => Op::Recurring {
                order_id,
                cost: rng.i64(100..1_000),
            },
            62..=71 => Op::Wallet {
                order_id,
                cost: rng.i64(100..3_000),
            },
            72..=93 => Op::RefundRace {
                pick: rng.usize(..1_000_000),
                first: rng.i64(1..60),
                second: rng.i64(1..60),
            },
            _ => Op::Advance {
                // Mostly hours (notices' retries, refund batches at 00:00), sometimes a
                // month (recurring periods).
                seconds: if rng.u8(..5) == 0 {
                    31 * 86_400
                } else {
                    rng.i64(600..2 * 86_400)
                },
            },
        }
    }
}

/// An order the gateway answered.
#[derive(Clone, Debug)]
pub struct Placed {
    pub uid: u64,
    pub key: String,
    pub cost: i64,
}

/// What the gateway answered, so far; what it must never forget or do twice.
#[derive(Default, Debug)]
pub struct Model {
    /// Every order id sent in `api/orders`, answered or not.
    pub sent_order_ids: BTreeSet<String>,
    /// Orders answered with their uid, by order id.
    pub placed: BTreeMap<String, Placed>,
    /// Orders refused (no uid in the answer), with the answer's code and message: none
    /// of them may be stored.
    pub refused: BTreeMap<String, String>,
    /// Orders whose payment the gateway answered as done (`250`), by uid.
    pub paid: BTreeMap<u64, Placed>,
    /// Refunds answered (`B200`): (order uid, refund uid).
    pub refunds: Vec<(u64, u64)>,
    /// The merchant clock's largest offset answered (seconds).
    pub clock: i64,
    /// Operations cut by a kill (no answer).
    pub cut: u64,
    /// Operations answered (whatever the answer).
    pub answered: u64,
}

/// Who acts: the merchant's API client, a browser, and the sandbox's helpers.
pub struct Actors {
    pub client: Client,
    pub http: reqwest::Client,
    pub base: String,
    pub store_uid: String,
    /// The e-wallet's virtual card number, bound before the run.
    pub virtual_pan: String,
    /// Every answer, as it came.
    pub answers: Arc<AnswerLog>,
}

/// One answer the gateway gave (or did not give).
#[derive(Clone, Debug)]
pub struct Answer {
    /// What was asked: a command, a helper's path, `paypage`, `paypage/pay`.
    pub what: String,
    /// The document's code for the API; the HTTP status for pages and helpers;
    /// `transport` when no answer came, `garbage` when it was not what the interface
    /// answers.
    pub code: String,
    /// The message (`msg`, a helper's `error`, a page's text).
    pub msg: String,
    pub started: Instant,
    pub elapsed: Duration,
}

/// The answers of a run, in the order they came.
#[derive(Default)]
pub struct AnswerLog(Mutex<Vec<Answer>>);

impl AnswerLog {
    pub fn note(&self, what: &str, code: String, msg: String, started: Instant) {
        if let Ok(mut log) = self.0.lock() {
            log.push(Answer {
                what: what.to_owned(),
                code,
                msg,
                started,
                elapsed: started.elapsed(),
            });
        }
    }

    /// A typed SDK call's result.
    fn note_sdk<T>(&self, what: &str, started: Instant, result: &Result<T, ClientError>) {
        match result {
            Ok(_) => self.note(what, "ok".to_owned(), String::new(), started),
            Err(e) => self.note_error(what, started, e),
        }
    }

    fn note_error(&self, what: &str, started: Instant, error: &ClientError) {
        let (code, msg) = match error {
            ClientError::Refused { code, msg } => (code.clone(), msg.clone()),
            e if e.is_transport() => ("transport".to_owned(), e.to_string()),
            e => ("garbage".to_owned(), e.to_string()),
        };
        self.note(what, code, msg, started);
    }

    pub fn all(&self) -> Vec<Answer> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The operation could not finish: the gateway went away (or answered garbage).
#[derive(Debug)]
pub struct Cut;

impl From<ClientError> for Cut {
    fn from(_: ClientError) -> Cut {
        Cut
    }
}

impl From<reqwest::Error> for Cut {
    fn from(_: reqwest::Error) -> Cut {
        Cut
    }
}

impl Actors {
    /// Run one operation, writing what was answered into `model`.
    pub async fn run(&self, op: &Op, model: &Mutex<Model>) -> Result<(), Cut> {
        match op {
            Op::PayPage {
                order_id,
                cost,
                decline,
            } => {
                let placed = self
                    .order(model, order_id, *cost, json!({"pfn": "CREDITCARD"}))
                    .await?;
                let Some((placed, url)) = placed else {
                    return Ok(());
                };
                let card = if *decline { DECLINED } else { CARD };
                if self.pay_on_the_page(&url, card).await? && !*decline {
                    self.confirm_paid(model, &placed).await?;
                }
            }
            Op::Capture { order_id, cost } => {
                let fields = json!({"pfn": "CREDITCARD", "creditcard_is_automatic_payment": "0"});
                let Some((placed, _)) = self.order(model, order_id, *cost, fields).await? else {
                    return Ok(());
                };
                let (status, paid) = self
                    .helper(
                        &format!("/sandbox/orders/{}/pay", placed.uid),
                        json!({"card_number": CARD, "expiry": "1230", "cvc": "123"}),
                    )
                    .await?;
                if status != 200 || paid["prc"] != "245" {
                    return Ok(());
                }
                let items = vec![Item::new("1", "item", placed.cost, 1)];
                let started = Instant::now();
                let (a, b) = tokio::join!(
                    self.client
                        .capture(placed.uid, &placed.key, placed.cost, items.clone()),
                    self.client
                        .capture(placed.uid, &placed.key, placed.cost, items),
                );
                self.answers
                    .note_sdk("api/authorizedrequestpayment", started, &a);
                self.answers
                    .note_sdk("api/authorizedrequestpayment", started, &b);
                let transport =
                    |r: &Result<_, ClientError>| matches!(r, Err(e) if e.is_transport());
                if transport(&a) || transport(&b) {
                    return Err(Cut);
                }
                if a.is_ok() || b.is_ok() {
                    self.confirm_paid(model, &placed).await?;
                }
            }
            Op::PayLater {
                order_id,
                cost,
                twice,
            } => {
                let Some((placed, _)) = self
                    .order(model, order_id, *cost, json!({"pfn": "CSTORECODE"}))
                    .await?
                else {
                    return Ok(());
                };
                let (status, _) = self
                    .helper(
                        &format!("/sandbox/orders/{}/pay", placed.uid),
                        json!({"pfn": "CSTORECODE"}),
                    )
                    .await?;
                if status != 200 {
                    return Ok(());
                }
                let path = format!("/sandbox/orders/{}/offline-payment", placed.uid);
                let answers = if *twice {
                    let (a, b) =
                        tokio::join!(self.helper(&path, json!({})), self.helper(&path, json!({})));
                    vec![a?, b?]
                } else {
                    vec![self.helper(&path, json!({})).await?]
                };
                if answers.iter().any(|(s, v)| *s == 200 && v["prc"] == "250") {
                    self.confirm_paid(model, &placed).await?;
                }
            }
            Op::Recurring { order_id, cost } => {
                let fields = json!({"pfn": "DIRECTDEBIT", "regular": "M", "regular_total": "3"});
                let Some((placed, _)) = self.order(model, order_id, *cost, fields).await? else {
                    return Ok(());
                };
                let (status, paid) = self
                    .helper(
                        &format!("/sandbox/orders/{}/pay", placed.uid),
                        json!({"card_number": CARD, "expiry": "1230", "cvc": "123"}),
                    )
                    .await?;
                if status == 200 && paid["prc"] == "250" {
                    self.confirm_paid(model, &placed).await?;
                }
            }
            Op::Wallet { order_id, cost } => {
                let fields = json!({"enable_ewallet": 1, "virtual_pan": self.virtual_pan, "ewallet_type": 2});
                // Charged in the background: the answer of `api/orders` is the charge's.
                let answer = self.order_answer(model, order_id, *cost, fields).await?;
                if let Some(placed) = answer.placed
                    && answer.code == "250"
                {
                    self.confirm_paid(model, &placed).await?;
                }
            }
            Op::RefundRace {
                pick,
                first,
                second,
            } => {
                let target = {
                    let m = model.lock().map_err(|_| Cut)?;
                    if m.paid.is_empty() {
                        return Ok(());
                    }
                    m.paid.values().nth(pick % m.paid.len()).cloned()
                };
                let Some(order) = target else { return Ok(()) };
                let first = (order.cost * first / 100).max(1);
                let second = (order.cost * second / 100).max(1);
                let started = Instant::now();
                let (a, b, c) = tokio::join!(
                    self.client.refund(order.uid, &order.key, first),
                    self.client.refund(order.uid, &order.key, second),
                    self.client.refund_cancel(order.uid, &order.key),
                );
                self.answers.note_sdk("api/refund", started, &a);
                self.answers.note_sdk("api/refund", started, &b);
                self.answers.note_sdk("api/refundcancel", started, &c);
                let mut m = model.lock().map_err(|_| Cut)?;
                for answer in [a, b] {
                    match answer {
                        Ok(r) => {
                            if let Some(row) = r.row_data {
                                m.refunds.push((order.uid, row.refund_uid));
                            }
                        }
                        Err(e) if e.is_transport() => return Err(Cut),
                        Err(_) => {}
                    }
                }
                if matches!(c, Err(ref e) if e.is_transport()) {
                    return Err(Cut);
                }
            }
            Op::Advance { seconds } => {
                // The merchant's key lives a year on its clock (as MYPAY's do): the run
                // stays within it, moving by hours once the clock is 320 days on.
                let offset = model.lock().map_err(|_| Cut)?.clock;
                let seconds = if offset + seconds > KEY_YEAR_KEPT {
                    3_600
                } else {
                    *seconds
                };
                let (status, answer) = self
                    .helper(
                        "/sandbox/clock/advance",
                        json!({"seconds": seconds, "store_uid": self.store_uid}),
                    )
                    .await?;
                if status == 200 {
                    let now = clock_offset(&answer);
                    let mut m = model.lock().map_err(|_| Cut)?;
                    m.clock = m.clock.max(now);
                }
            }
        }
        Ok(())
    }

    /// A card order left unpaid: its PayPage's URL (`None` when refused).
    pub async fn place(
        &self,
        model: &Mutex<Model>,
        order_id: &str,
        cost: i64,
    ) -> Result<Option<String>, Cut> {
        let placed = self
            .order(model, order_id, cost, json!({"pfn": "CREDITCARD"}))
            .await?;
        Ok(placed.map(|(_, url)| url))
    }

    /// `api/orders` for this merchant; the answered order and its PayPage URL, or `None`
    /// when refused.
    async fn order(
        &self,
        model: &Mutex<Model>,
        order_id: &str,
        cost: i64,
        fields: Value,
    ) -> Result<Option<(Placed, String)>, Cut> {
        let answer = self.order_answer(model, order_id, cost, fields).await?;
        Ok(answer.placed.map(|p| (p, answer.url)))
    }

    async fn order_answer(
        &self,
        model: &Mutex<Model>,
        order_id: &str,
        cost: i64,
        fields: Value,
    ) -> Result<OrderAnswer, Cut> {
        let mut data = json!({
            "store_uid": self.store_uid,
            "order_id": order_id,
            "cost": cost.to_string(),
            "user_id": "crash",
            "ip": "127.0.0.1",
            "items": [{"id": "1", "name": "item", "cost": cost.to_string(), "amount": "1", "total": cost.to_string()}],
        });
        if let (Some(d), Some(f)) = (data.as_object_mut(), fields.as_object()) {
            d.extend(f.clone());
        }
        model
            .lock()
            .map_err(|_| Cut)?
            .sent_order_ids
            .insert(order_id.to_owned());
        let started = Instant::now();
        let answer = self.client.call_raw(Command::Orders, &data).await;
        match &answer {
            Ok(a) => self.answers.note(
                "api/orders",
                a["code"].as_str().unwrap_or("garbage").to_owned(),
                a["msg"].as_str().unwrap_or_default().to_owned(),
                started,
            ),
            Err(e) => self.answers.note_error("api/orders", started, e),
        }
        let answer = answer?;
        let code = answer["code"].as_str().unwrap_or_default().to_owned();
        let uid = answer["uid"].as_u64().filter(|u| *u > 0);
        let key = answer["key"].as_str().unwrap_or_default();
        let placed = match uid {
            Some(uid) if !key.is_empty() => {
                let placed = Placed {
                    uid,
                    key: key.to_owned(),
                    cost,
                };
                model
                    .lock()
                    .map_err(|_| Cut)?
                    .placed
                    .insert(order_id.to_owned(), placed.clone());
                Some(placed)
            }
            _ => {
                let msg = answer["msg"].as_str().unwrap_or_default();
                model
                    .lock()
                    .map_err(|_| Cut)?
                    .refused
                    .insert(order_id.to_owned(), format!("{code} {msg}"));
                None
            }
        };
        Ok(OrderAnswer {
            code,
            url: answer["url"].as_str().unwrap_or_default().to_owned(),
            placed,
        })
    }

    /// The consumer on the PayPage: the page, then the card form with the page's CSRF
    /// token and cookies. True when the form was taken (a redirect to the next step).
    async fn pay_on_the_page(&self, url: &str, card: &str) -> Result<bool, Cut> {
        let started = Instant::now();
        let page = match self.http.get(url).send().await {
            Ok(page) => page,
            Err(e) => {
                self.answers
                    .note("paypage", "transport".into(), e.to_string(), started);
                return Err(Cut);
            }
        };
        let status = page.status();
        let jar = cookies(&page);
        let html = page.text().await?;
        self.answers.note(
            "paypage",
            status.as_u16().to_string(),
            html.clone(),
            started,
        );
        if status != 200 {
            return Ok(false);
        }
        let Some(csrf) = hidden(&html, "csrf") else {
            return Ok(false);
        };
        let ticket = url
            .rsplit('/')
            .next()
            .map(|t| t.trim_end_matches(".html"))
            .unwrap_or_default();
        let form = [
            ("csrf", csrf.as_str()),
            ("pfn", "CREDITCARD"),
            ("card_number", card),
            ("expiry", "1230"),
            ("cvc", "123"),
        ];
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let started = Instant::now();
        let paid = self
            .http
            .post(format!("{}/payment/{ticket}/pay", self.base))
            .header("cookie", jar)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        let paid = match paid {
            Ok(paid) => paid,
            Err(e) => {
                self.answers
                    .note("paypage/pay", "transport".into(), e.to_string(), started);
                return Err(Cut);
            }
        };
        let status = paid.status();
        let text = paid.text().await.unwrap_or_default();
        self.answers
            .note("paypage/pay", status.as_u16().to_string(), text, started);
        Ok(status == 303)
    }

    /// The payment was answered as done: the merchant's query must say `250`.
    async fn confirm_paid(&self, model: &Mutex<Model>, placed: &Placed) -> Result<(), Cut> {
        let started = Instant::now();
        let record = self.client.query_order(placed.uid, &placed.key).await;
        self.answers.note_sdk("api/queryorder", started, &record);
        let record = record?;
        if record.prc == "250" {
            let mut placed = placed.clone();
            placed.cost = if record.actual_cost > 0 {
                record.actual_cost
            } else {
                record.cost
            };
            model
                .lock()
                .map_err(|_| Cut)?
                .paid
                .insert(placed.uid, placed);
        }
        Ok(())
    }

    /// A sandbox helper: (status, JSON answer).
    pub async fn helper(&self, path: &str, body: Value) -> Result<(u16, Value), Cut> {
        let started = Instant::now();
        // The answer log names the helper, not the order.
        let what = path
            .split('/')
            .map(|p| {
                if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() {
                    "{uid}"
                } else {
                    p
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let answer = match self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
        {
            Ok(a) => a,
            Err(e) => {
                self.answers
                    .note(&what, "transport".into(), e.to_string(), started);
                return Err(Cut);
            }
        };
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let msg = value["error"].as_str().map(str::to_owned).unwrap_or(text);
        self.answers.note(&what, status.to_string(), msg, started);
        Ok((status, value))
    }
}

struct OrderAnswer {
    code: String,
    url: String,
    placed: Option<Placed>,
}

/// The cookies a page set, as a browser sends them back.
fn cookies(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A hidden field's value in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker)? + marker.len();
    let len = html[at..].find('"')?;
    Some(html[at..at + len].to_owned())
}

/// The clock's stored offset in an answer of `/sandbox/clock` or `clock/advance`: what
/// must never move back.
pub fn clock_offset(answer: &Value) -> i64 {
    answer["offset_seconds"].as_i64().unwrap_or(i64::MIN)
}
