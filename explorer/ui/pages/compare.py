from explorer.ui import compare_page
from explorer.ui.nav import run_guarded

run_guarded(compare_page.render)
