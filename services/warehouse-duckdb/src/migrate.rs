//! Tables from the schema registry: created when missing, missing columns added. Partition,
//! clustering and expiry settings are BigQuery's; DuckDB needs none of them.

use std::collections::{BTreeMap, BTreeSet};

use duckdb::Connection;
use vibe_warehouse::Result;
use vibe_warehouse::schema::{Column, ColumnType, TABLES, Table};

use crate::convert::query_error;

fn sql_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String | ColumnType::JsonText => "VARCHAR",
        ColumnType::Int64 => "BIGINT",
        ColumnType::Bool => "BOOLEAN",
        // Plain TIMESTAMP holds UTC; TIMESTAMPTZ would need the ICU extension.
        ColumnType::Timestamp => "TIMESTAMP",
        ColumnType::Date => "DATE",
    }
}

/// A comment literal; registry docs are static, this only keeps quotes from breaking it.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn create_table(table: &Table) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|column| {
            let not_null = if column.required { " NOT NULL" } else { "" };
            format!("{} {}{not_null}", column.name, sql_type(column.ty))
        })
        .collect();
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({});\nCOMMENT ON TABLE {} IS {};\n",
        table.name,
        columns.join(", "),
        table.name,
        literal(table.doc)
    );
    for column in table.columns {
        sql.push_str(&comment_column(table, column));
    }
    sql
}

fn comment_column(table: &Table, column: &Column) -> String {
    format!(
        "COMMENT ON COLUMN {}.{} IS {};\n",
        table.name,
        column.name,
        literal(column.doc)
    )
}

/// Columns added later are nullable: the rows already there have no value.
fn add_column(table: &Table, column: &Column) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {};\n{}",
        table.name,
        column.name,
        sql_type(column.ty),
        comment_column(table, column)
    )
}

/// Existing columns per table of the main schema.
fn existing(connection: &Connection) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut statement = connection
        .prepare(
            "SELECT table_name, column_name FROM information_schema.columns \
             WHERE table_schema = 'main' AND table_catalog = current_database()",
        )
        .map_err(query_error)?;
    let mut rows = statement.query([]).map_err(query_error)?;
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    while let Some(row) = rows.next().map_err(query_error)? {
        let table: String = row.get(0).map_err(query_error)?;
        let column: String = row.get(1).map_err(query_error)?;
        tables.entry(table).or_default().insert(column);
    }
    Ok(tables)
}

pub(crate) fn migrate(connection: &mut Connection) -> Result<()> {
    let existing = existing(connection)?;
    let mut ddl = String::new();
    let mut created = Vec::new();
    let mut added = Vec::new();
    for table in TABLES {
        match existing.get(table.name) {
            None => {
                ddl.push_str(&create_table(table));
                created.push(table.name);
            }
            Some(columns) => {
                for column in table.columns.iter().filter(|c| !columns.contains(c.name)) {
                    ddl.push_str(&add_column(table, column));
                    added.push(format!("{}.{}", table.name, column.name));
                }
            }
        }
    }
    if ddl.is_empty() {
        tracing::debug!("duckdb schema up to date");
        return Ok(());
    }
    let transaction = connection.transaction().map_err(query_error)?;
    transaction.execute_batch(&ddl).map_err(query_error)?;
    transaction.commit().map_err(query_error)?;
    tracing::info!(?created, ?added, "duckdb schema migrated");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_names_every_registry_column() {
        for table in TABLES {
            let sql = create_table(table);
            for column in table.columns {
                assert!(sql.contains(&format!("{} {}", column.name, sql_type(column.ty))));
            }
            assert!(!sql.contains("TIMESTAMPTZ"));
        }
    }
}
