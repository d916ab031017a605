//! Batched writes of new orders.
//!
//! A commit with `synchronous_commit` on waits for the server's WAL flush, and one
//! flush per order would cap a node at the disk's flush rate. Handlers hand their order
//! to the node's writer task instead; it takes every order waiting (up to the batch
//! limit) and writes them with one multi-row `INSERT`, a statement (and a transaction)
//! of its own, whatever the batch's size. Each handler is answered only after it
//! committed.
//!
//! One writer, not several, and one batch at a time: while a batch waits for its flush
//! the next one grows. Two writers halved the batches; on two cores `api/orders` fell
//! from about 13,000 to 9,500 a second (`benches/postgres.rs`); two batches in flight
//! from one writer, 0.85–0.93 × of one (`BENCH_VERSUS`). The writer keeps one connection
//! (1.03–1.14 × of taking any idle one per batch): the same server process, its caches
//! warm, writes every batch. The same-request index is on a digest the gateway sends
//! (1.06–1.10 × of the server hashing the request twice per row).
//!
//! SPEC §4's rules need no lookup first in the common case: the unique indexes make the
//! insert skip an order whose same request is still unpaid (a retry), or whose
//! id a strict merchant used (a duplicate). Only orders the insert skipped, and orders of
//! strict merchants (whose id may have been used by an order from before the merchant
//! turned strict, which no index covers), are looked up, and decided against what is
//! stored. The writers of several nodes may take the same `order_id` at
//! once: whoever commits first wins, and the other's order is decided again.

use crate::store::orders::LatestOrder;
use crate::store::{CommitObserver, Created, NewOrderRow, StoreError, StoreResult, ask, micros};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Row};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

/// Rounds of deciding again for orders whose insert collided with another writer's.
const ROUNDS: usize = 4;

struct Job {
    order: NewOrderRow,
    reply: oneshot::Sender<StoreResult<Created>>,
}

pub(super) struct OrderWriter {
    tx: mpsc::Sender<Job>,
}

impl OrderWriter {
    pub(super) fn spawn(
        pool: PgPool,
        max_batch: usize,
        on_commit: Option<CommitObserver>,
    ) -> OrderWriter {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::channel(max_batch * 4);
        tokio::spawn(run(pool, rx, max_batch, on_commit));
        OrderWriter { tx }
    }

    pub(super) async fn create(&self, order: NewOrderRow) -> StoreResult<Created> {
        ask(&self.tx, |reply| Job { order, reply }, "the order writer").await?
    }
}

/// The writer: take every order waiting (the next batch fills while this one is
/// written), write them, answer them. Ends when every sender is gone.
async fn run(
    pool: PgPool,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    on_commit: Option<CommitObserver>,
) {
    // One connection of its own, kept while it works: the same server process (its
    // caches warm) writes every batch, instead of whichever idle one the pool hands out.
    let mut connection: Option<PoolConnection<Postgres>> = None;
    let mut collisions = Collisions::default();
    loop {
        let mut batch = Vec::with_capacity(max_batch);
        if rx.recv_many(&mut batch, max_batch).await == 0 {
            return;
        }
        let orders: Vec<&NewOrderRow> = batch.iter().map(|j| &j.order).collect();
        let written = match connection.as_mut() {
            Some(c) => Ok(c),
            None => pool.acquire().await.map(|c| connection.insert(c)),
        };
        let written = match written {
            Ok(c) => write_batch(c, &orders, &mut collisions).await,
            Err(e) => Err(e.into()),
        };
        match written {
            Ok(answers) => {
                if let Some(observe) = &on_commit {
                    observe(batch.len());
                }
                for (job, answer) in batch.into_iter().zip(answers) {
                    let _ = job.reply.send(Ok(answer));
                }
            }
            Err(e) => {
                // The connection may be what failed: the next batch takes another.
                if let Some(mut c) = connection.take() {
                    c.close_on_drop();
                }
                tracing::error!(error = %e, size = batch.len(), "order batch failed; nothing of it was written");
                let message = e.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(match &e {
                        StoreError::Unavailable(_) => StoreError::Unavailable(message.clone()),
                        _ => StoreError::Database(message.clone()),
                    }));
                }
            }
        }
    }
}

/// What to do with one order of the batch.
enum Decision {
    Answer(Created),
    /// The same request as an earlier order of this batch: whatever that one becomes.
    SameAs(usize),
    Insert,
}

/// For each `(store_uid, order_id, request)` named, the transaction a new order is
/// decided against: the unpaid one of the same request if there is one (the insert
/// collided with it), else the latest. One index probe per key: a key has few rows.
const LATEST: &str = "SELECT k.n, o.uid, o.token, o.request, o.prc
    FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
         AS k(store_uid, order_id, request, n)
    CROSS JOIN LATERAL (
        SELECT uid, token, request, prc FROM orders
        WHERE orders.store_uid = k.store_uid AND orders.order_id = k.order_id
        ORDER BY (orders.prc = '200' AND orders.request = k.request) DESC, uid DESC
        LIMIT 1) o";

/// The insert of new orders, with what follows its rows (an `ON CONFLICT` clause, or
/// nothing).
macro_rules! insert_orders {
    ($on_conflict:literal) => {
        concat!(
            "INSERT INTO orders (store_uid, order_id, token, request, pfn, cost,
        currency, authorise_only, strict_order_id, prc, created_at, updated_at, request_digest,
        user_id)
    SELECT s, i, t, r, p, c, cu, a, st, '200', n, n, d, u
    FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bytea[], $12::text[])
         AS x(s, i, t, r, p, c, cu, a, st, n, d, u) ",
            $on_conflict,
            " RETURNING uid, token"
        )
    };
}

/// Orders of merchants that allow `order_id` reuse, while none of their recent batches
/// collided: a plain insert. A collision (a retry of an unpaid order, which only the
/// same-request index can refuse) fails the whole statement, which changes nothing; the
/// batch is then written with [`INSERT_REUSABLE`]. Checking the arbiter index before
/// every row cost more than a tenth of `api/orders` (`BENCH_VERSUS` on PostgreSQL:
/// 1.10–1.14 × without it).
const INSERT_PLAIN: &str = insert_orders!("");

/// Orders of merchants that allow `order_id` reuse can collide only on the unpaid
/// same-request index (`orders_by_order_id_digest`): naming it spares the server a
/// check of every other unique index per row.
const INSERT_REUSABLE: &str = insert_orders!(
    "ON CONFLICT (store_uid, order_id, request_digest, (CASE WHEN prc = '200' THEN 0 END)) DO NOTHING"
);

/// Strict merchants' orders collide on either index.
const INSERT_STRICT: &str = insert_orders!("ON CONFLICT DO NOTHING");

/// Whether the writer expects collisions: after a plain insert collided, batches are
/// written with `ON CONFLICT` until one goes through with none skipped. A merchant
/// retrying all the time thus costs one failed statement, not one per batch.
#[derive(Default)]
struct Collisions {
    expected: bool,
}

struct Stored {
    uid: u64,
    token: String,
    request: String,
    unpaid: bool,
}

async fn write_batch(
    db: &mut PgConnection,
    batch: &[&NewOrderRow],
    collisions: &mut Collisions,
) -> StoreResult<Vec<Created>> {
    let mut decisions: Vec<Option<Decision>> = (0..batch.len()).map(|_| None).collect();
    let mut undecided: Vec<usize> = (0..batch.len()).collect();
    let mut answers: Vec<Option<Created>> = vec![None; batch.len()];
    for round in 0..ROUNDS {
        if undecided.is_empty() {
            break;
        }
        // First round: only strict merchants' orders need what is stored; later rounds
        // decide the orders the insert skipped.
        let lookup: Vec<usize> = if round == 0 {
            undecided
                .iter()
                .copied()
                .filter(|&i| batch[i].strict)
                .collect()
        } else {
            undecided.clone()
        };
        let latest = latest(db, batch, &lookup).await?;
        // Orders of this round to insert, by key: the first of each key is inserted, a
        // later one with the same request is the same transaction.
        let mut inserting: HashMap<(&str, &str), usize> = HashMap::new();
        for &i in &undecided {
            let order = batch[i];
            let key = (order.store_uid.as_str(), order.order_id.as_str());
            let decision = if let Some(&first) = inserting.get(&key) {
                match (LatestOrder {
                    uid: 0,
                    token: "",
                    request: &batch[first].request_json,
                    unpaid: true,
                })
                .reuse_for(order)
                {
                    Some(Created::Retry { .. }) => Decision::SameAs(first),
                    Some(other) => Decision::Answer(other),
                    None => Decision::Insert,
                }
            } else {
                match latest.get(&i) {
                    Some(stored) => match (LatestOrder {
                        uid: stored.uid,
                        token: &stored.token,
                        request: &stored.request,
                        unpaid: stored.unpaid,
                    })
                    .reuse_for(order)
                    {
                        Some(answer) => Decision::Answer(answer),
                        None => Decision::Insert,
                    },
                    None => Decision::Insert,
                }
            };
            if matches!(decision, Decision::Insert) {
                inserting.entry(key).or_insert(i);
            }
            decisions[i] = Some(decision);
        }
        let mut to_insert: Vec<usize> = undecided
            .iter()
            .copied()
            .filter(|&i| matches!(decisions[i], Some(Decision::Insert)))
            .collect();
        // Every writer inserts in key order, so two writers waiting on each other's
        // colliding rows cannot deadlock.
        to_insert.sort_by(|&a, &b| {
            (&batch[a].store_uid, &batch[a].order_id)
                .cmp(&(&batch[b].store_uid, &batch[b].order_id))
        });
        let inserted = insert(db, batch, &to_insert, collisions).await?;
        let mut next = Vec::new();
        for &i in &undecided {
            match decisions[i].take() {
                Some(Decision::Answer(a)) => answers[i] = Some(a),
                Some(Decision::Insert) => match inserted.get(batch[i].token.as_str()) {
                    Some(&uid) => {
                        answers[i] = Some(Created::New {
                            uid,
                            token: batch[i].token.clone(),
                        })
                    }
                    // Another writer committed a colliding row first: decide again.
                    None => next.push(i),
                },
                Some(Decision::SameAs(first)) => decisions[i] = Some(Decision::SameAs(first)),
                None => {}
            }
        }
        // Followers of an order decided this round follow it; of one decided again,
        // are decided again with it.
        for &i in &undecided {
            if let Some(Decision::SameAs(first)) = decisions[i] {
                match &answers[first] {
                    Some(Created::New { uid, token } | Created::Retry { uid, token }) => {
                        answers[i] = Some(Created::Retry {
                            uid: *uid,
                            token: token.clone(),
                        });
                        decisions[i] = None;
                    }
                    Some(Created::DuplicateOrderId) => {
                        answers[i] = Some(Created::DuplicateOrderId);
                        decisions[i] = None;
                    }
                    None => {
                        decisions[i] = None;
                        next.push(i);
                    }
                }
            }
        }
        next.sort_unstable();
        undecided = next;
        if round + 1 == ROUNDS && !undecided.is_empty() {
            return Err(StoreError::Database(
                "new orders kept colliding with other writers' (order_id reuse)".into(),
            ));
        }
    }
    answers
        .into_iter()
        .map(|a| {
            a.ok_or_else(|| StoreError::Corrupt("an order of the batch was not decided".into()))
        })
        .collect()
}

/// What is stored for each of the `which` orders of the batch, by its index.
async fn latest(
    db: &mut PgConnection,
    batch: &[&NewOrderRow],
    which: &[usize],
) -> StoreResult<HashMap<usize, Stored>> {
    if which.is_empty() {
        return Ok(HashMap::new());
    }
    let stores: Vec<&str> = which.iter().map(|&i| batch[i].store_uid.as_str()).collect();
    let ids: Vec<&str> = which.iter().map(|&i| batch[i].order_id.as_str()).collect();
    let requests: Vec<&str> = which
        .iter()
        .map(|&i| batch[i].request_json.as_str())
        .collect();
    let rows = sqlx::query(LATEST)
        .bind(&stores)
        .bind(&ids)
        .bind(&requests)
        .fetch_all(&mut *db)
        .await?;
    let mut latest = HashMap::with_capacity(rows.len());
    for row in rows {
        // WITH ORDINALITY counts from 1.
        let n: i64 = row.try_get(0)?;
        let Some(&i) = usize::try_from(n - 1).ok().and_then(|n| which.get(n)) else {
            continue;
        };
        let prc: String = row.try_get(4)?;
        latest.insert(
            i,
            Stored {
                uid: row.try_get::<i64, _>(1)? as u64,
                token: row.try_get(2)?,
                request: row.try_get(3)?,
                unpaid: prc == "200",
            },
        );
    }
    Ok(latest)
}

/// Insert `which` orders of the batch (one statement for each kind of merchant among
/// them); the uids of those inserted, by their (random, unique) tokens.
async fn insert(
    db: &mut PgConnection,
    batch: &[&NewOrderRow],
    which: &[usize],
    collisions: &mut Collisions,
) -> StoreResult<HashMap<String, u64>> {
    let (strict, reusable): (Vec<usize>, Vec<usize>) =
        which.iter().partition(|&&i| batch[i].strict);
    let plain = if collisions.expected {
        None
    } else {
        Some(insert_with(db, INSERT_PLAIN, batch, &reusable).await)
    };
    let mut inserted = match plain {
        Some(Ok(inserted)) => inserted,
        Some(Err(e)) if !matches!(e, StoreError::Duplicate) => return Err(e),
        // Expected or met, a collision: the rows that do not collide are inserted.
        _ => {
            let inserted = insert_with(db, INSERT_REUSABLE, batch, &reusable).await?;
            collisions.expected = inserted.len() < reusable.len();
            inserted
        }
    };
    inserted.extend(insert_with(db, INSERT_STRICT, batch, &strict).await?);
    Ok(inserted)
}

async fn insert_with(
    db: &mut PgConnection,
    statement: &'static str,
    batch: &[&NewOrderRow],
    which: &[usize],
) -> StoreResult<HashMap<String, u64>> {
    if which.is_empty() {
        return Ok(HashMap::new());
    }
    let texts = |f: &dyn Fn(&NewOrderRow) -> &str| -> Vec<&str> {
        which.iter().map(|&i| f(batch[i])).collect()
    };
    let ints = |f: &dyn Fn(&NewOrderRow) -> i64| -> Vec<i64> {
        which.iter().map(|&i| f(batch[i])).collect()
    };
    let rows = sqlx::query(statement)
        .bind(texts(&|o| &o.store_uid))
        .bind(texts(&|o| &o.order_id))
        .bind(texts(&|o| &o.token))
        .bind(texts(&|o| &o.request_json))
        .bind(texts(&|o| o.pfn))
        .bind(ints(&|o| o.cost))
        .bind(texts(&|o| o.currency))
        .bind(ints(&|o| i64::from(o.authorise_only)))
        .bind(ints(&|o| i64::from(o.strict)))
        .bind(ints(&|o| micros(o.now)))
        .bind(
            which
                .iter()
                .map(|&i| request_digest(&batch[i].request_json))
                .collect::<Vec<[u8; 16]>>(),
        )
        .bind(texts(&|o| &o.user_id))
        .fetch_all(&mut *db)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(1)?, r.try_get::<i64, _>(0)? as u64)))
        .collect()
}

/// The digest the unpaid same-request index keeps of a request: the first 16 bytes of
/// its SHA-256 (a different request colliding would only be decided again, by the text).
fn request_digest(request: &str) -> [u8; 16] {
    use sha2::Digest;
    let full = sha2::Sha256::digest(request.as_bytes());
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&full[..16]);
    digest
}
