"""The studio: a web page and a REST API where a person and a GAN make things together.

``ganvas studio RUNS`` serves every checkpoint under a runs folder. The API (ganvas.studio.app,
schema at /openapi.json) makes outputs from seeds and recipes, interpolates, lists and applies
GANSpace directions, breeds, projects uploaded images, translates, and downloads outputs with their
provenance; the page (ganvas/studio/static, plain HTML, CSS and JavaScript, nothing fetched from
elsewhere) is a client of that API.
"""
