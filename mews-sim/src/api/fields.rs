//! Field-by-field validation of raw request JSON, so a bad request gets a `400` whose `Message`
//! names the offending field (serde's own errors rarely do). Once a body passes, it is converted
//! into the shared `mews_wire` request type.
//!
//! Rules: `null` counts as absent; unknown fields are ignored; required strings that are empty or
//! only whitespace are refused (stricter than the docs, which set no minimum); arrays hold at most
//! 1000 items; intervals need `StartUtc <= EndUtc` and a bounded length in calendar months.

use jiff::{Timestamp, ToSpan, tz::TimeZone};
use mews_wire::{Limitation, TimeInterval, limits};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object being validated; `prefix` names it in messages (e.g. `Messages[2].`).
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Self { obj, prefix: String::new() }
    }

    fn nested(obj: &'a Map<String, Value>, prefix: String) -> Self {
        Self { obj, prefix }
    }

    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    fn missing(&self, field: &str) -> ApiError {
        ApiError::bad(format!("Missing required field {}.", self.name(field)))
    }

    fn wrong_type(&self, field: &str, expected: &str, got: &Value) -> ApiError {
        ApiError::bad(format!("Invalid {}: expected {expected}, got {}.", self.name(field), type_name(got)))
    }

    pub fn optional_string(&self, field: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(field, "a string", other)),
        }
    }

    /// A required string that must not be empty or blank.
    pub fn text(&self, field: &str) -> Result<&'a str, ApiError> {
        let s = self.optional_string(field)?.ok_or_else(|| self.missing(field))?;
        if s.trim().is_empty() {
            return Err(ApiError::bad(format!("Invalid {}: must not be empty.", self.name(field))));
        }
        Ok(s)
    }

    fn array(&self, field: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                if items.len() > limits::MAX_ARRAY {
                    return Err(ApiError::bad(format!(
                        "Invalid {}: at most {} items are allowed, got {}.",
                        self.name(field),
                        limits::MAX_ARRAY,
                        items.len()
                    )));
                }
                Ok(Some(items))
            }
            Some(other) => Err(self.wrong_type(field, "an array", other)),
        }
    }

    /// An optional array of strings (`EnterpriseIds`, `MessageThreadIds`); present means
    /// non-empty (stricter than the docs: an empty filter is almost certainly a caller bug).
    pub fn string_array(&self, field: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(items) = self.array(field)? else {
            return Ok(None);
        };
        if items.is_empty() {
            return Err(ApiError::bad(format!("Invalid {}: must not be empty.", self.name(field))));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(self.wrong_type(&format!("{field}[{i}]"), "a string", other)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Like [`Fields::string_array`], with a smaller cap than the general 1000 (e.g. 100 for
    /// `ChannelNumbers`, 1 for `CompanyIds`).
    pub fn string_array_max(&self, field: &str, max: usize) -> Result<Option<Vec<String>>, ApiError> {
        let items = self.string_array(field)?;
        if let Some(items) = &items
            && items.len() > max
        {
            return Err(ApiError::bad(format!(
                "Invalid {}: at most {max} items are allowed, got {}.",
                self.name(field),
                items.len()
            )));
        }
        Ok(items)
    }

    /// Whether a field is present and not `null`.
    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    /// A required object (e.g. `Extent`), validated as booleans by the caller.
    pub fn object(&self, field: &str) -> Result<Fields<'a>, ApiError> {
        match self.get(field) {
            None => Err(self.missing(field)),
            Some(Value::Object(o)) => Ok(Fields::nested(o, format!("{}.", self.name(field)))),
            Some(other) => Err(self.wrong_type(field, "an object", other)),
        }
    }

    /// An optional boolean.
    pub fn optional_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(field, "a boolean", other)),
        }
    }

    /// A required, non-empty array of objects, each validated by the caller.
    pub fn objects(&self, field: &str) -> Result<Vec<Fields<'a>>, ApiError> {
        let items = self.array(field)?.ok_or_else(|| self.missing(field))?;
        if items.is_empty() {
            return Err(ApiError::bad(format!("Invalid {}: must not be empty.", self.name(field))));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(o) => Ok(Fields::nested(o, format!("{}[{i}].", self.name(field)))),
                other => Err(self.wrong_type(&format!("{field}[{i}]"), "an object", other)),
            })
            .collect()
    }

    fn timestamp(&self, field: &str) -> Result<Timestamp, ApiError> {
        let s = self.optional_string(field)?.ok_or_else(|| self.missing(field))?;
        s.parse::<Timestamp>().map_err(|_| {
            ApiError::bad(format!(
                "Invalid {}: expected an ISO 8601 UTC date-time such as 2026-03-14T21:05:12Z.",
                self.name(field)
            ))
        })
    }

    /// An optional time interval no longer than `max_months` calendar months counted from
    /// `StartUtc` (e.g. 2026-01-31 + 1 month = 2026-02-28).
    pub fn interval(&self, field: &str, max_months: i64) -> Result<Option<TimeInterval>, ApiError> {
        let obj = match self.get(field) {
            None => return Ok(None),
            Some(Value::Object(o)) => o,
            Some(other) => return Err(self.wrong_type(field, "an object", other)),
        };
        let inner = Fields::nested(obj, format!("{}.", self.name(field)));
        let start = inner.timestamp("StartUtc")?;
        let end = inner.timestamp("EndUtc")?;
        if end < start {
            return Err(ApiError::bad(format!(
                "Invalid {}: EndUtc must not be earlier than StartUtc.",
                self.name(field)
            )));
        }
        let limit = start
            .to_zoned(TimeZone::UTC)
            .checked_add(max_months.months())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX);
        if end > limit {
            let unit = if max_months == 1 { "month" } else { "months" };
            return Err(ApiError::bad(format!(
                "Invalid {}: the interval must not be longer than {max_months} {unit}.",
                self.name(field)
            )));
        }
        Ok(Some(TimeInterval { start_utc: start, end_utc: end }))
    }

    /// The required `Limitation`: `Count` an integer in 1–1000, optional string `Cursor`.
    pub fn limitation(&self) -> Result<Limitation, ApiError> {
        let field = "Limitation";
        let obj = match self.get(field) {
            None => return Err(self.missing(field)),
            Some(Value::Object(o)) => o,
            Some(other) => return Err(self.wrong_type(field, "an object", other)),
        };
        let inner = Fields::nested(obj, "Limitation.".into());
        let count = match inner.get("Count") {
            None => return Err(inner.missing("Count")),
            Some(Value::Number(n)) => n.as_u64(),
            Some(other) => return Err(inner.wrong_type("Count", "an integer", other)),
        };
        let count = count
            .filter(|c| (u64::from(limits::MIN_COUNT)..=u64::from(limits::MAX_COUNT)).contains(c))
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "Invalid Limitation.Count: expected an integer from {} to {}.",
                    limits::MIN_COUNT,
                    limits::MAX_COUNT
                ))
            })?;
        let cursor = inner.optional_string("Cursor")?.map(str::to_owned);
        Ok(Limitation { count: count as u32, cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value, f: impl Fn(&Fields) -> Result<(), ApiError>) -> String {
        let obj = v.as_object().unwrap().clone();
        match f(&Fields::new(&obj)) {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn messages_name_the_field() {
        assert!(err(json!({}), |f| f.text("Subject").map(drop)).contains("Subject"));
        assert!(err(json!({"Subject": 5}), |f| f.text("Subject").map(drop)).contains("a number"));
        assert!(err(json!({"Subject": "  "}), |f| f.text("Subject").map(drop)).contains("empty"));
        let m = err(json!({"Limitation": {"Count": 0}}), |f| f.limitation().map(drop));
        assert!(m.contains("Limitation.Count"), "{m}");
        let m = err(json!({"Limitation": {"Count": 2.5}}), |f| f.limitation().map(drop));
        assert!(m.contains("Limitation.Count"), "{m}");
        let m = err(json!({"Messages": [{"Text": "x"}, 3]}), |f| f.objects("Messages").map(drop));
        assert!(m.contains("Messages[1]"), "{m}");
    }

    #[test]
    fn month_caps_are_calendar_months_from_the_start() {
        let ok = json!({"C": {"StartUtc": "2026-01-31T00:00:00Z", "EndUtc": "2026-02-28T00:00:00Z"}});
        let obj = ok.as_object().unwrap();
        assert!(Fields::new(obj).interval("C", 1).unwrap().is_some());
        let m = err(json!({"C": {"StartUtc": "2026-01-31T00:00:00Z", "EndUtc": "2026-02-28T00:00:01Z"}}), |f| {
            f.interval("C", 1).map(drop)
        });
        assert!(m.contains("1 month"), "{m}");
        let ok3 = json!({"C": {"StartUtc": "2026-01-15T00:00:00Z", "EndUtc": "2026-04-15T00:00:00Z"}});
        assert!(Fields::new(ok3.as_object().unwrap()).interval("C", 3).unwrap().is_some());
    }
}
