from explorer.ui import design_page
from explorer.ui.nav import run_guarded

run_guarded(design_page.render)
