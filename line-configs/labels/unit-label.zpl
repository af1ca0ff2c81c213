^FX tracemark unit label, 4 x 3 in at 203 dpi. Field 1 takes the trace code (a GS1 DataMatrix
^FX and the same as text), field 2 the product name from label_fields. The printer stores this
^FX body once as the format named by the marker's job and recalls it per label (docs/protocols/zpl.md).
^FO40,40^A0N,36,36^FN2^FS
^FO40,100^BXN,8,200^FN1^FS
^FO40,420^A0N,28,28^FN1^FS
