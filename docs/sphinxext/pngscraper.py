"""A sphinx-gallery image scraper for the PNG files lfpk_hpc's functions write.

The examples draw their figures as a user does, with lfpk_hpc's plotting functions,
which write PNG files into ``$LFPK_EXAMPLES_OUT/<example>/``; after each code block
this scraper puts the PNG files that are new (or rewritten) there into the page.
(A module of its own: Sphinx pickles the configuration, and a class from conf.py
cannot be pickled.)
"""

import os
import shutil
from pathlib import Path


class PNGScraper:
    """Embed the PNG files an example's code block wrote under ``$LFPK_EXAMPLES_OUT``."""

    def __init__(self):
        self.seen: dict[str, float] = {}

    def __repr__(self):  # sphinx-gallery compares the config by its repr
        return "PNGScraper"

    def __call__(self, block, block_vars, gallery_conf):
        from sphinx_gallery.scrapers import figure_rst

        names = []
        for png in sorted(Path(os.environ["LFPK_EXAMPLES_OUT"]).glob("**/*.png")):
            mtime = png.stat().st_mtime
            if self.seen.get(str(png)) == mtime:
                continue
            self.seen[str(png)] = mtime
            target = block_vars["image_path_iterator"].next()
            shutil.copyfile(png, target)
            names.append(target)
        return figure_rst(names, gallery_conf["src_dir"])
