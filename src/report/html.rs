//! The self-contained HTML report and the catalog index. Owned by the reports work.
