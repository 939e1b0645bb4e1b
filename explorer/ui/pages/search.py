from explorer.ui import search_page
from explorer.ui.nav import run_guarded

run_guarded(search_page.render)
