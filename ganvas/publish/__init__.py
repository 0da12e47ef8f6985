"""Publishing outputs responsibly: an invisible watermark, a signed provenance manifest (and C2PA content
credentials), a memorization guard against near-copies of training items, and the licences that travel
with what a model learned from. Every output path of ganvas (CLI, studio, REST API) goes through here."""
