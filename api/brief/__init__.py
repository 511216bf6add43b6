"""The leaders' daily brief: ``data.collect`` gathers the day's figures, ``pdf.render`` lays them out (fpdf2)."""
