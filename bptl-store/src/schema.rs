//! The schema's history, checked before the migrations run: databases of a newer bptl are
//! refused, and those of the 0.1.0 development builds, whose three migrations per backend were
//! squashed into the one baseline, are upgraded (the whole history) or refused (a part of it).

use sqlx::migrate::Migrator;
use sqlx::{Database, Executor, FromRow, Pool};

use crate::ConnectError;

/// The SQL checksums (SHA-384, hex) of the migrations 1 to 3 of the 0.1.0 development builds,
/// squashed into the baseline `0001_baseline.sql` since; a database with all three applied has
/// the baseline's schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Squashed {
    pub checksums: [&'static str; 3],
    /// What to do with a database that has only a part of them (a new database, per backend).
    pub hint: &'static str,
}

pub(crate) const SQLITE_0_1_0: Squashed = Squashed {
    checksums: [
        "967a3bb82dc0fa809b631518b2f34f5f048bebd1b3615cf8c60793485895b416aa3e70d522dbf098095305d413bba22b",
        "bf8d822087ceeeae9b5545880f649d70626e7772ca747ad736beb022fb3626d5a38f710beb985c2d997d20f39611ab4a",
        "ca22c205a4d3f204b74db0b3ea08fcfcf12bf20a121a794e49cf1c16eff52f8fcba9ac031c853fc2c4e5ab81944a01ca",
    ],
    hint: "point store.url at a new file (the old one keeps its records for reference), or first finish its open tasks with the bptl that wrote it",
};

pub(crate) const POSTGRES_0_1_0: Squashed = Squashed {
    checksums: [
        "99d8bc4dc56b94ea21971db2ab6f640864227bfb4caafc75b5773378d01f659bfcccc79aa7361b75ea297e77e543bad8",
        "52cfcc5b21694ff95268eaaf45586d001d480d1dd3ad72f8a6c32e15803a828cb225d163fd9714ca4f845068d2d2f1d9",
        "bd627691c69235d126ca9e25bbf09897fa186571fb68c8d8a2912c44759654e15081c2c5872c7163a77f86d585536c99",
    ],
    hint: "point store.url at a new database (CREATE DATABASE ...; the old one keeps its records for reference), or first finish its open tasks with the bptl that wrote it",
};

/// One row of `_sqlx_migrations`: version, checksum, success.
type Applied = (i64, Vec<u8>, bool);

/// Make the database at `url` ready for `migrator`: refuse it when a newer bptl wrote it or when
/// it has a part of the squashed 0.1.0 history, and record the baseline as applied in place of
/// the whole history (the schema is the same; no table or row of data is touched).
pub(crate) async fn prepare<DB>(
    pool: &Pool<DB>,
    url: &str,
    migrator: &Migrator,
    squashed: Squashed,
) -> Result<(), ConnectError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> Applied: FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    // No table yet: a new database.
    let applied: Vec<Applied> =
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    let of_0_1_0 = |(version, checksum, _): &Applied| {
        usize::try_from(version - 1)
            .ok()
            .and_then(|i| squashed.checksums.get(i))
            .is_some_and(|sum| hex(checksum) == *sum)
    };
    let newest = applied.iter().map(|a| a.0).max();
    if applied.iter().any(of_0_1_0) {
        let whole = applied.len() == 3 && applied.iter().all(|a| a.2 && of_0_1_0(a));
        if !whole {
            let version = newest.unwrap_or(0);
            return Err(ConnectError::Outdated {
                url: crate::redact_url(url),
                version,
                history: "of three migrations in _sqlx_migrations, squashed since into one baseline; only a database with all three is upgraded",
                hint: squashed.hint,
            });
        }
        return adopt_baseline(pool, migrator, squashed)
            .await
            .map_err(|e| ConnectError::open(url, e));
    }
    let newest_known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match newest {
        Some(version) if version > newest_known => Err(ConnectError::Newer {
            url: crate::redact_url(url),
            version,
            known: newest_known,
        }),
        _ => Ok(()),
    }
}

/// Replace the 0.1.0 history in `_sqlx_migrations` by the baseline, in one transaction. Each
/// statement names the checksum it replaces, so that of several processes doing this at once
/// only the first changes anything.
async fn adopt_baseline<DB>(
    pool: &Pool<DB>,
    migrator: &Migrator,
    squashed: Squashed,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let Some(baseline) = migrator.iter().find(|m| m.version == 1) else {
        return Err(sqlx::Error::Protocol(
            "this build has no baseline migration".into(),
        ));
    };
    let old: Vec<Vec<u8>> = squashed.checksums.iter().map(|h| unhex(h)).collect();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE _sqlx_migrations SET description = $1, checksum = $2 \
         WHERE version = 1 AND checksum = $3",
    )
    .bind(&*baseline.description)
    .bind(&*baseline.checksum)
    .bind(old[0].as_slice())
    .execute(&mut *tx)
    .await?;
    for (version, checksum) in [(2_i64, &old[1]), (3, &old[2])] {
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1 AND checksum = $2")
            .bind(version)
            .bind(checksum.as_slice())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(
        "task store: recorded the baseline migration in place of the three migrations of bptl 0.1.0 (same schema, data unchanged)"
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{hex, unhex};

    #[test]
    fn checksums_round_trip_through_hex() {
        assert_eq!(hex(&unhex("00ff7a")), "00ff7a");
        assert_eq!(unhex("0a10"), vec![10, 16]);
    }
}
