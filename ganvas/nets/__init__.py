"""Generator/discriminator pairs, registered by name.

Adding a model: copy ``template.py`` to a new file, fill it in, and add one line below. The CLI's
``--model NAME`` and every checkpoint find the class through this table.
"""

from ganvas.registry import Registry

MODELS = Registry("model", {
    "seed-dcgan": "ganvas.nets.seed_dcgan:SeedDCGAN",
    "dcgan": "ganvas.nets.dcgan:DCGAN",
    "stylegan": "ganvas.nets.stylegan:StyleGAN",
    "musegan": "ganvas.nets.musegan:MuseGAN",
    "pix2pix": "ganvas.nets.pix2pix:Pix2Pix",
    "cyclegan": "ganvas.nets.cyclegan:CycleGAN",
})
