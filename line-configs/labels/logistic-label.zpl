^FX tracemark GS1 logistic label, 4 x 6 in at 203 dpi (GS1 Logistic Label Guideline: text on
^FX top, the content symbol, the SSCC symbol at the bottom). Fields (drivers/src/zpl/logistic.rs):
^FX 1 SSCC symbol data, 2 its text, 3 content symbol data, 4 its text, 5 product name, 10-15 the
^FX data titles and values. Both symbols are Code 128 in mode N with the interpretation line off:
^FX the data starts with the Start C and FNC1 invocation codes, which makes them GS1-128, and the
^FX text with parentheses is printed as a field of its own (ZPL II Programming Guide, BC command,
^FX The UCC/EAN-128 Symbology, Using N for the Mode Parameter, and Printing the Interpretation Line).
^FO40,30^A0N,40,40^FN5^FS
^FO40,90^A0N,30,30^FN10^FS
^FO40,130^A0N,30,30^FN11^FS
^FO40,170^A0N,30,30^FN12^FS
^FO40,210^A0N,30,30^FN13^FS
^FO40,250^A0N,30,30^FN14^FS
^FO40,290^A0N,30,30^FN15^FS
^FO40,360^BY3^BCN,220,N,N,N,N^FN3^FS
^FO40,590^A0N,28,28^FN4^FS
^FO40,680^BY4^BCN,260,N,N,N,N^FN1^FS
^FO40,950^A0N,34,34^FN2^FS
