"""The application layer: what turns a preset and options into a prepared run, above the engine.

`ganvas.app.training` resolves the config (defaults ← model defaults ← preset ← options), finds or
creates the run folder, loads the data, builds the model, picks the device, wires the domain and the
step hooks (evaluation during training) into a `ganvas.train.Trainer`, and checks a dry run by
reloading its checkpoint through the API. The engine below it knows none of these choices.
"""
