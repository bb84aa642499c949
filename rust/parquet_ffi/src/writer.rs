//! Writes a table of nullable INT64 / DOUBLE / STRING columns to a Parquet file with
//! SNAPPY-compressed pages, row group by row group.
use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use parquet::schema::types::{ColumnPath, Type, TypePtr};

use crate::table::{ColumnView, Values};

/// Writes `rows` rows of `columns` to `path` (created or truncated) in row groups of
/// at most `row_group_rows` rows (0: a single row group). Every column has `rows`
/// entries. On error, or a panic, after the file was created, the file is removed; a
/// file that could not be created is left as it was.
pub fn write_table(
    path: &Path,
    columns: &[ColumnView],
    rows: usize,
    row_group_rows: usize,
) -> Result<(), String> {
    let schema = schema(columns).map_err(|e| format!("schema: {e}"))?;
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut created = RemoveUnlessKept { path, keep: false };
    write_file(file, schema, columns, rows, row_group_rows)?;
    created.keep = true;
    Ok(())
}

/// Removes the file at `path` when dropped (also while unwinding) unless `keep`.
struct RemoveUnlessKept<'a> {
    path: &'a Path,
    keep: bool,
}

impl Drop for RemoveUnlessKept<'_> {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(self.path);
        }
    }
}

/// The Parquet content of `write_table`, into `file`.
fn write_file(
    file: File,
    schema: TypePtr,
    columns: &[ColumnView],
    rows: usize,
    row_group_rows: usize,
) -> Result<(), String> {
    let mut props = WriterProperties::builder().set_compression(Compression::SNAPPY);
    for column in columns {
        props = props.set_column_dictionary_enabled(
            ColumnPath::from(column.name.as_str()),
            dictionary_pays(column, rows),
        );
    }
    let props = props.build();
    let mut writer =
        SerializedFileWriter::new(file, schema, Arc::new(props)).map_err(|e| e.to_string())?;
    let group = if row_group_rows == 0 {
        rows.max(1)
    } else {
        row_group_rows
    };
    let mut start = 0;
    while start < rows {
        let end = rows.min(start + group);
        let mut row_group = writer.next_row_group().map_err(|e| e.to_string())?;
        for column in columns {
            let mut column_writer = row_group
                .next_column()
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no column writer for {}", column.name))?;
            write_rows(&mut column_writer, column, start, end)
                .map_err(|e| format!("column {}: {e}", column.name))?;
            column_writer.close().map_err(|e| e.to_string())?;
        }
        row_group.close().map_err(|e| e.to_string())?;
        start = end;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(())
}

/// Values sampled from the start of a column to judge its cardinality.
const DICTIONARY_SAMPLE: usize = 4096;

/// Whether dictionary encoding is worth trying for `column`: at most one distinct value
/// in four among its first present values (categories, labels, flags). Columns of
/// mostly distinct values (measurements, row indexes) would fill the dictionary page,
/// hashing every value, only to fall back to plain encoding: most of the write time.
fn dictionary_pays(column: &ColumnView, rows: usize) -> bool {
    let sample: Vec<usize> = (0..rows)
        .filter(|&r| column.present[r] != 0)
        .take(DICTIONARY_SAMPLE)
        .collect();
    if sample.len() < 16 {
        return true;
    }
    let distinct = match &column.values {
        Values::Int64(v) => sample.iter().map(|&r| v[r]).collect::<HashSet<_>>().len(),
        Values::Double(v) => sample
            .iter()
            .map(|&r| v[r].to_bits())
            .collect::<HashSet<_>>()
            .len(),
        Values::Text(v) => sample.iter().map(|&r| v[r]).collect::<HashSet<_>>().len(),
    };
    distinct * 4 <= sample.len()
}

/// The message type: one optional primitive field per column, in order.
fn schema(columns: &[ColumnView]) -> parquet::errors::Result<TypePtr> {
    let mut fields = Vec::with_capacity(columns.len());
    for column in columns {
        let (physical, logical) = match column.values {
            Values::Int64(_) => (PhysicalType::INT64, None),
            Values::Double(_) => (PhysicalType::DOUBLE, None),
            Values::Text(_) => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
        };
        let field = Type::primitive_type_builder(&column.name, physical)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(logical)
            .build()?;
        fields.push(Arc::new(field));
    }
    Ok(Arc::new(
        Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?,
    ))
}

/// Writes rows `start..end` of `column` into its chunk of the current row group.
fn write_rows(
    out: &mut SerializedColumnWriter,
    column: &ColumnView,
    start: usize,
    end: usize,
) -> parquet::errors::Result<()> {
    let levels = column.definition_levels(start, end);
    match &column.values {
        Values::Int64(v) => {
            out.typed::<Int64Type>().write_batch(
                &column.present_values(v, start, end),
                Some(&levels),
                None,
            )?;
        }
        Values::Double(v) => {
            out.typed::<DoubleType>().write_batch(
                &column.present_values(v, start, end),
                Some(&levels),
                None,
            )?;
        }
        Values::Text(v) => {
            out.typed::<ByteArrayType>().write_batch(
                &text_values(column, v, start, end),
                Some(&levels),
                None,
            )?;
        }
    }
    Ok(())
}

/// The present strings of rows `start..end`, copied once into one shared buffer that
/// each value slices.
fn text_values(column: &ColumnView, text: &[&[u8]], start: usize, end: usize) -> Vec<ByteArray> {
    let rows = (start..end).filter(|&r| column.present[r] != 0);
    let mut buffer = Vec::with_capacity(rows.clone().map(|r| text[r].len()).sum());
    let mut bounds = Vec::with_capacity(end - start);
    for r in rows {
        let from = buffer.len();
        buffer.extend_from_slice(text[r]);
        bounds.push((from, buffer.len()));
    }
    let shared = Bytes::from(buffer);
    bounds
        .into_iter()
        .map(|(from, to)| ByteArray::from(shared.slice(from..to)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    fn temp_file(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("streamer-parquet-{}-{name}", std::process::id()))
    }

    #[test]
    fn round_trips_values_and_nulls_across_row_groups() {
        let rows = 300_001;
        let present: Vec<u8> = (0..rows).map(|r| u8::from(r % 7 != 3)).collect();
        let ints: Vec<i64> = (0..rows as i64).map(|r| r * 1_000_003 - 7).collect();
        let doubles: Vec<f64> = (0..rows).map(|r| r as f64 / 4.0 - 0.5).collect();
        let words = [&b"alpha"[..], "b\u{e9}ta".as_bytes(), b"", b"x,y"];
        let text: Vec<&[u8]> = (0..rows).map(|r| words[r % 4]).collect();
        let columns = [
            ColumnView {
                name: "n".into(),
                present: &present,
                values: Values::Int64(&ints),
            },
            ColumnView {
                name: "d".into(),
                present: &present,
                values: Values::Double(&doubles),
            },
            ColumnView {
                name: "s".into(),
                present: &present,
                values: Values::Text(text.clone()),
            },
        ];
        let path = temp_file("roundtrip.parquet");
        write_table(&path, &columns, rows, 128 * 1024).unwrap();

        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.file_metadata().num_rows(), rows as i64);
        assert_eq!(meta.num_row_groups(), 3);
        assert_eq!(meta.row_group(0).num_rows(), 128 * 1024);
        assert_eq!(
            meta.row_group(0).column(0).compression(),
            Compression::SNAPPY
        );
        let mut count = 0;
        for (r, row) in reader.get_row_iter(None).unwrap().enumerate() {
            let row = row.unwrap();
            let fields: Vec<&Field> = row.get_column_iter().map(|(_, f)| f).collect();
            if present[r] == 0 {
                assert!(
                    fields.iter().all(|f| matches!(f, Field::Null)),
                    "row {r}: {row}"
                );
            } else {
                assert_eq!(fields[0], &Field::Long(ints[r]), "row {r}");
                assert_eq!(fields[1], &Field::Double(doubles[r]), "row {r}");
                assert_eq!(
                    fields[2],
                    &Field::Str(String::from_utf8(text[r].to_vec()).unwrap()),
                    "row {r}"
                );
            }
            count += 1;
        }
        assert_eq!(count, rows);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn an_empty_table_is_a_valid_file_with_its_schema() {
        let columns = [ColumnView {
            name: "n".into(),
            present: &[],
            values: Values::Int64(&[]),
        }];
        let path = temp_file("empty.parquet");
        write_table(&path, &columns, 0, 0).unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
        assert_eq!(
            reader
                .metadata()
                .file_metadata()
                .schema_descr()
                .num_columns(),
            1
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn dictionary_encoding_only_for_columns_that_repeat() {
        let rows = 20_000;
        let present = vec![1u8; rows];
        let measurements: Vec<f64> = (0..rows).map(|r| r as f64 * 0.37 + 0.001).collect();
        let labels: Vec<i64> = (0..rows as i64).map(|r| r % 3).collect();
        let columns = [
            ColumnView {
                name: "measurement".into(),
                present: &present,
                values: Values::Double(&measurements),
            },
            ColumnView {
                name: "label".into(),
                present: &present,
                values: Values::Int64(&labels),
            },
        ];
        let path = temp_file("dictionary.parquet");
        write_table(&path, &columns, rows, 0).unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        assert_eq!(group.column(0).dictionary_page_offset(), None);
        assert!(group.column(1).dictionary_page_offset().is_some());
        let mut sum = 0.0;
        for row in reader.get_row_iter(None).unwrap() {
            if let Field::Double(v) = row.unwrap().get_column_iter().next().unwrap().1 {
                sum += v;
            }
        }
        assert_eq!(sum, measurements.iter().sum::<f64>());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_it() {
        let err = write_table(Path::new("/nonexistent-dir/x.parquet"), &[], 0, 0).unwrap_err();
        assert!(err.contains("/nonexistent-dir/x.parquet"), "{err}");
    }
}
