//! A borrowed, validated view of the table handed over the C interface.

/// The values of one column, one entry per row (entries of null rows are ignored).
pub enum Values<'a> {
    Int64(&'a [i64]),
    Double(&'a [f64]),
    Text(Vec<&'a [u8]>),
}

/// One nullable column: `present[r] != 0` when row r has a value.
pub struct ColumnView<'a> {
    pub name: String,
    pub present: &'a [u8],
    pub values: Values<'a>,
}

impl ColumnView<'_> {
    /// Definition levels of rows `start..end`: 1 for a value, 0 for a null.
    pub fn definition_levels(&self, start: usize, end: usize) -> Vec<i16> {
        self.present[start..end]
            .iter()
            .map(|&p| i16::from(p != 0))
            .collect()
    }

    /// The present values of rows `start..end`, in row order.
    pub fn present_values<T: Copy>(&self, values: &[T], start: usize, end: usize) -> Vec<T> {
        (start..end)
            .filter(|&r| self.present[r] != 0)
            .map(|r| values[r])
            .collect()
    }
}
