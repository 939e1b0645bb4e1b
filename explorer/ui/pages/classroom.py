from explorer.ui import classroom_page
from explorer.ui.nav import run_guarded

run_guarded(classroom_page.render)
