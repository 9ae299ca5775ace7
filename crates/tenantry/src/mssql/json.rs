//! SQL Server values to JSON, and the values the data API binds.
//!
//! `BIGINT`/`INT`/… → number, `NVARCHAR` → string, `BIT` → boolean, `DATETIME2` (stored as UTC) →
//! RFC 3339 with milliseconds and `Z` (`2026-11-23T17:20:12.123Z`, the same text the other engines
//! store), `NULL` of any type → `null`. `UNIQUEIDENTIFIER` → string, `DECIMAL` → string (exact),
//! `FLOAT` → number, `DATE` → `YYYY-MM-DD`, `DATETIMEOFFSET` → UTC RFC 3339.

use super::MssqlError;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::Value;
use tiberius::{ColumnData, FromSql, IntoSql};

/// A value bound to a data-API statement.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    BigInt(Option<i64>),
    Text(Option<String>),
    Bit(Option<bool>),
    /// Bound as `DATETIME2`, truncated to milliseconds (the columns are `DATETIME2(3)`).
    DateTime(Option<DateTime<Utc>>),
}

impl SqlValue {
    pub fn is_null(&self) -> bool {
        matches!(
            self,
            SqlValue::BigInt(None)
                | SqlValue::Text(None)
                | SqlValue::Bit(None)
                | SqlValue::DateTime(None)
        )
    }
}

impl<'a> IntoSql<'a> for SqlValue {
    fn into_sql(self) -> ColumnData<'a> {
        match self {
            SqlValue::BigInt(v) => v.into_sql(),
            SqlValue::Text(v) => v.into_sql(),
            SqlValue::Bit(v) => v.into_sql(),
            SqlValue::DateTime(Some(t)) => t.trunc_subsecs(3).into_sql(),
            SqlValue::DateTime(None) => Option::<DateTime<Utc>>::None.into_sql(),
        }
    }
}

/// `t` as the data API shows times: RFC 3339, UTC, milliseconds, `Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One cell as JSON; `column` names it in errors.
pub fn cell_to_json(column: &str, data: &ColumnData<'static>) -> Result<Value, MssqlError> {
    let decode = |e: tiberius::error::Error| MssqlError::Decode {
        column: column.to_owned(),
        reason: e.to_string(),
    };
    let value = match data {
        ColumnData::U8(v) => v.map(Value::from),
        ColumnData::I16(v) => v.map(Value::from),
        ColumnData::I32(v) => v.map(Value::from),
        ColumnData::I64(v) => v.map(Value::from),
        ColumnData::F32(v) => v.map(|f| Value::from(f64::from(f))),
        ColumnData::F64(v) => v.map(Value::from),
        ColumnData::Bit(v) => v.map(Value::from),
        ColumnData::String(v) => v.as_deref().map(Value::from),
        ColumnData::Guid(v) => v.map(|g| Value::from(g.to_string())),
        ColumnData::Numeric(v) => v.map(|n| Value::from(n.to_string())),
        ColumnData::DateTime(_) | ColumnData::SmallDateTime(_) | ColumnData::DateTime2(_) => {
            NaiveDateTime::from_sql(data)
                .map_err(decode)?
                .map(|t| Value::from(format_time(t.and_utc())))
        }
        ColumnData::DateTimeOffset(_) => DateTime::<Utc>::from_sql(data)
            .map_err(decode)?
            .map(|t| Value::from(format_time(t))),
        ColumnData::Date(_) => NaiveDate::from_sql(data)
            .map_err(decode)?
            .map(|d| Value::from(d.format("%Y-%m-%d").to_string())),
        other => {
            return Err(MssqlError::Decode {
                column: column.to_owned(),
                reason: format!("{other:?} has no JSON form in the data API"),
            })
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::borrow::Cow;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 17, 20, 12).unwrap()
            + chrono::Duration::microseconds(123_456);
        assert_eq!(format_time(t), "2026-11-23T17:20:12.123Z");
        let cell = t.trunc_subsecs(3).naive_utc().into_sql();
        assert_eq!(
            cell_to_json("created_at", &cell).unwrap(),
            Value::from("2026-11-23T17:20:12.123Z")
        );
    }

    #[test]
    fn nulls_of_every_type_become_json_null() {
        for cell in [
            ColumnData::I64(None),
            ColumnData::String(None),
            ColumnData::Bit(None),
            ColumnData::DateTime2(None),
        ] {
            assert_eq!(cell_to_json("c", &cell).unwrap(), Value::Null, "{cell:?}");
        }
    }

    #[test]
    fn numbers_text_and_bits_keep_their_json_type() {
        assert_eq!(
            cell_to_json("id", &ColumnData::I64(Some(7))).unwrap(),
            Value::from(7)
        );
        let text = ColumnData::String(Some(Cow::Borrowed("Zürich")));
        assert_eq!(cell_to_json("city", &text).unwrap(), Value::from("Zürich"));
        assert_eq!(
            cell_to_json("disabled", &ColumnData::Bit(Some(true))).unwrap(),
            Value::Bool(true)
        );
    }

    #[test]
    fn a_type_without_json_form_is_an_error_naming_the_column() {
        let err =
            cell_to_json("blob", &ColumnData::Binary(Some(Cow::Borrowed(&[1u8][..])))).unwrap_err();
        assert!(err.to_string().contains("\"blob\""), "{err}");
    }
}
