from explorer.ui import charts_page
from explorer.ui.nav import run_guarded

run_guarded(charts_page.render)
