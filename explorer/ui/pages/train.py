from explorer.ui import train_page
from explorer.ui.nav import run_guarded

run_guarded(train_page.render)
