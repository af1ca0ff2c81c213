//! The store's connection pool: sqlx's `AnyPool`, plus the switch of an injected outage
//! (`crate::fault`). On SQLite an outage is injected here: while it lasts, every statement run
//! on the pool, every acquire and every transaction begun fails at once with a refused
//! connection, as a PostgreSQL store behind the fault proxy does. (sqlx's `before_acquire` and
//! `after_connect` hooks cannot: the pool retries their errors until its acquire timeout.)
//! Without a fault the check is one load of an absent option.

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Describe, Either, Execute, Executor, Transaction};

use crate::fault::Outage;

/// An `AnyPool` that refuses while an injected outage lasts.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    inner: AnyPool,
    outage: Option<Outage>,
}

impl Pool {
    /// `inner`, refusing while `outage` is on (never without one).
    pub(crate) fn new(inner: AnyPool, outage: Option<Outage>) -> Pool {
        Pool { inner, outage }
    }

    fn check(&self) -> Result<(), sqlx::Error> {
        match &self.outage {
            Some(outage) if outage.is_down() => Err(sqlx::Error::Io(Outage::refused())),
            _ => Ok(()),
        }
    }

    /// The sqlx pool itself (failover changes where its new connections go).
    pub(crate) fn inner(&self) -> &AnyPool {
        &self.inner
    }

    /// Begins a transaction on a pooled connection.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.check()?;
        self.inner.begin().await
    }

    /// A pooled connection.
    pub(crate) async fn acquire(&self) -> Result<PoolConnection<Any>, sqlx::Error> {
        self.check()?;
        self.inner.acquire().await
    }

    /// Closes every connection.
    pub(crate) async fn close(&self) {
        self.inner.close().await;
    }
}

impl<'p> Executor<'p> for &'_ Pool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.check() {
            Ok(()) => (&self.inner).fetch_many(query),
            Err(error) => Box::pin(futures_util::stream::once(async move { Err(error) })),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.check() {
            Ok(()) => (&self.inner).fetch_optional(query),
            Err(error) => Box::pin(async move { Err(error) }),
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        match self.check() {
            Ok(()) => (&self.inner).prepare_with(sql, parameters),
            Err(error) => Box::pin(async move { Err(error) }),
        }
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'p: 'e,
    {
        match self.check() {
            Ok(()) => (&self.inner).describe(sql),
            Err(error) => Box::pin(async move { Err(error) }),
        }
    }
}
