-- +goose Up
-- Each document version is a leaf of the history log, which anchors the
-- head of the document's hash chain; log_index is that leaf's index, set
-- in the same transaction as the version is stored. Versions stored before
-- this migration have none (qujat audit verify reports them).
ALTER TABLE document_versions ADD COLUMN log_index bigint;
CREATE UNIQUE INDEX document_versions_log_index_idx ON document_versions (log_index) WHERE log_index IS NOT NULL;

-- +goose Down
DROP INDEX document_versions_log_index_idx;
ALTER TABLE document_versions DROP COLUMN log_index;
