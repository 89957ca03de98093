# Kernels that execute the documentation's pages start here (conf.py sets IPYTHONDIR).
# tqdm.auto warns in a kernel without ipywidgets even when no progress bar is shown: every
# page passes progressbar=False, so the warning says nothing about the page.
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
