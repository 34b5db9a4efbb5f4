"""Layer 5, render: figures and the HTML report. Draws result objects; never fits."""
