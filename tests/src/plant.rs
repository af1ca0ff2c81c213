//! Several controllers on one PostgreSQL (issue 18 item 3, docs/plant.md "Many controllers on
//! one PostgreSQL"): a fresh database for each test, and the checks a plant's store must pass
//! however its controllers ran — serial blocks disjoint, every code text once, the counts
//! consistent, each batch's codes from its own line's blocks only.

use std::collections::BTreeMap;

use sqlx::{Connection, Row};

/// A database of its own on the test server, dropped by [`FreshDatabase::drop_now`].
#[derive(Debug)]
pub struct FreshDatabase {
    /// The server's URL as given (`TRACEMARK_TEST_PG_URL`).
    base: String,
    /// The database's name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

impl FreshDatabase {
    /// Creates `h_<prefix>_<pid>_<nanos>` on the server of `base` (whose path names a
    /// database to connect to for that).
    pub async fn create(base: &str, prefix: &str) -> FreshDatabase {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("h_{prefix}_{}_{nanos}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(base)
            .await
            .expect("connect to TRACEMARK_TEST_PG_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let url = with_database(base, &name);
        FreshDatabase {
            base: base.to_owned(),
            name,
            url,
        }
    }

    /// Drops the database, closing what is still connected to it.
    pub async fn drop_now(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.base).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

/// `url` with its database replaced by `name` (a query string kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority_at = head.find("://").map_or(0, |at| at + 3);
    let server = match head[authority_at..].find('/') {
        Some(slash) => &head[..authority_at + slash],
        None => head,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// One row of `serial_blocks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRow {
    pub id: i64,
    pub product: String,
    pub first: i64,
    pub end: i64,
    pub issued_end: i64,
    pub owner: String,
}

/// What a plant's store holds, read with plain SQL (the checks must not trust the store's own
/// accounting).
#[derive(Debug)]
pub struct PlantState {
    /// Every serial block, by id.
    pub blocks: Vec<BlockRow>,
    /// Code rows, all products.
    pub codes: i64,
    /// Code texts held by more than one row, with how many.
    pub duplicate_texts: Vec<(String, i64)>,
    /// Code rows whose counter lies outside their block's issued range.
    pub outside_their_block: i64,
    /// (batch, block owner) → codes: which controllers' blocks each batch's codes came from.
    pub batch_owners: BTreeMap<(i64, String), i64>,
    /// Batch id → its line.
    pub batch_lines: BTreeMap<i64, String>,
    /// Codes issued by each block owner.
    pub codes_by_owner: BTreeMap<String, i64>,
}

impl PlantState {
    /// Reads the store at `url` (PostgreSQL).
    pub async fn read(url: &str) -> PlantState {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .expect("connect to the plant's database");
        let blocks = sqlx::query(
            "SELECT id, product_id, first_counter, end_counter, issued_end, owner \
             FROM serial_blocks ORDER BY id",
        )
        .fetch_all(&mut conn)
        .await
        .expect("read serial_blocks")
        .iter()
        .map(|row| BlockRow {
            id: row.get("id"),
            product: row.get("product_id"),
            first: row.get("first_counter"),
            end: row.get("end_counter"),
            issued_end: row.get("issued_end"),
            owner: row.get("owner"),
        })
        .collect();
        let codes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM codes")
            .fetch_one(&mut conn)
            .await
            .expect("count codes");
        let duplicate_texts = sqlx::query(
            "SELECT code, COUNT(*) AS n FROM codes GROUP BY code HAVING COUNT(*) > 1 LIMIT 20",
        )
        .fetch_all(&mut conn)
        .await
        .expect("look for a code text twice")
        .iter()
        .map(|row| (row.get("code"), row.get("n")))
        .collect();
        let outside_their_block: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM codes c JOIN serial_blocks b ON b.id = c.block_id \
             WHERE c.product_id <> b.product_id OR c.counter < b.first_counter \
             OR c.counter >= b.issued_end",
        )
        .fetch_one(&mut conn)
        .await
        .expect("codes against their blocks");
        let batch_owners = sqlx::query(
            "SELECT c.batch_id, b.owner, COUNT(*) AS n FROM codes c \
             JOIN serial_blocks b ON b.id = c.block_id WHERE c.batch_id IS NOT NULL \
             GROUP BY c.batch_id, b.owner",
        )
        .fetch_all(&mut conn)
        .await
        .expect("codes by batch and block owner")
        .iter()
        .map(|row| ((row.get("batch_id"), row.get("owner")), row.get("n")))
        .collect();
        let batch_lines = sqlx::query("SELECT id, line FROM batches")
            .fetch_all(&mut conn)
            .await
            .expect("batches")
            .iter()
            .map(|row| {
                let line: Option<String> = row.get("line");
                (row.get("id"), line.unwrap_or_default())
            })
            .collect();
        let codes_by_owner = sqlx::query(
            "SELECT b.owner, COUNT(*) AS n FROM codes c \
             JOIN serial_blocks b ON b.id = c.block_id GROUP BY b.owner",
        )
        .fetch_all(&mut conn)
        .await
        .expect("codes by block owner")
        .iter()
        .map(|row| (row.get("owner"), row.get("n")))
        .collect();
        let _ = conn.close().await;
        PlantState {
            blocks,
            codes,
            duplicate_texts,
            outside_their_block,
            batch_owners,
            batch_lines,
            codes_by_owner,
        }
    }

    /// Blocks of one product that share a counter, as pairs of block ids.
    pub fn overlapping_blocks(&self) -> Vec<(i64, i64)> {
        let mut by_product: BTreeMap<&str, Vec<&BlockRow>> = BTreeMap::new();
        for block in &self.blocks {
            by_product.entry(&block.product).or_default().push(block);
        }
        let mut overlaps = Vec::new();
        for blocks in by_product.values_mut() {
            blocks.sort_by_key(|b| (b.first, b.end));
            for pair in blocks.windows(2) {
                if pair[0].end > pair[1].first {
                    overlaps.push((pair[0].id, pair[1].id));
                }
            }
        }
        overlaps
    }

    /// Asserts what holds however the controllers ran and died: no two blocks of a product
    /// share a counter, no block issued beyond itself, no code text twice, every code inside
    /// its block's issued range, and the code rows exactly the serials the blocks issued.
    pub fn assert_consistent(&self) {
        assert_eq!(self.overlapping_blocks(), Vec::new(), "overlapping blocks");
        assert!(
            self.blocks
                .iter()
                .all(|b| b.first <= b.issued_end && b.issued_end <= b.end),
            "a block issued outside itself: {:?}",
            self.blocks
        );
        assert_eq!(
            self.duplicate_texts,
            Vec::new(),
            "code texts issued more than once"
        );
        assert_eq!(self.outside_their_block, 0, "codes outside their blocks");
        let issued: i64 = self.blocks.iter().map(|b| b.issued_end - b.first).sum();
        assert_eq!(issued, self.codes, "codes = serials issued from the blocks");
    }

    /// Asserts that every code of every batch of a line came from blocks owned by that line's
    /// controller, `<program>@<line>` (`app::lines::controller_actor`).
    pub fn assert_batches_issued_by_their_own_line(&self, program: &str) {
        for ((batch, owner), n) in &self.batch_owners {
            let line = self.batch_lines.get(batch).cloned().unwrap_or_default();
            assert_eq!(
                owner,
                &format!("{program}@{line}"),
                "{n} codes of batch {batch} (line {line}) from another controller's blocks"
            );
        }
    }
}
